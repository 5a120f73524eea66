// features.c: feature taps and the small linear algebra behind the detectors. Matrices here are at most a few
// hundred wide (the penultimate layer), so plain loops in double are fast enough and easy to check.
#include "defense/features.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train.h"

int feat_dim(const Model *m) {
    if (m->nlayers < 2) return 0;
    return (int)shape_size(m->layers[m->nlayers - 1].in);
}

// Load samples [start, start+B) of the (optional) index list into the model's input buffer and run it.
static void forward_chunk(Model *m, const Dataset *d, const int *idx, int start, int B, int *tmp_idx,
                          uint8_t *tmp_y) {
    for (int b = 0; b < B; b++) tmp_idx[b] = idx ? idx[start + b] : start + b;
    batch_load(m, d, tmp_idx, B, m->acts[0], tmp_y);
    model_forward(m, B);
}

// Forward n samples in batches; copy `width` floats per sample from acts[layer] into out (n, width).
static Status forward_copy(Model *m, const Dataset *d, const int *idx, int n, int layer, int width, float *out) {
    if (n < 0) return bl_fail(BL_ERR_USAGE, "features: negative sample count");
    Shape in = train_input_shape(d); // records: (2F,1,1), values then missing flags
    if (shape_size(in) != shape_size(m->input))
        return bl_fail(BL_ERR_DATA, "features: dataset samples (%s, %dx%dx%d) do not match the model's input",
                       ds_kind_name(d->kind), d->c, d->h, d->w);
    int *tmp_idx = malloc((size_t)m->max_batch * sizeof(int));
    uint8_t *tmp_y = malloc((size_t)m->max_batch);
    if (!tmp_idx || !tmp_y) {
        free(tmp_idx);
        free(tmp_y);
        return bl_fail(BL_ERR_RUN, "features: out of memory");
    }
    for (int s = 0; s < n; s += m->max_batch) {
        int B = BL_MIN(m->max_batch, n - s);
        forward_chunk(m, d, idx, s, B, tmp_idx, tmp_y);
        memcpy(out + (size_t)s * width, m->acts[layer], (size_t)B * width * sizeof(float));
    }
    free(tmp_idx);
    free(tmp_y);
    return BL_OK;
}

Status feat_penultimate(Model *m, const Dataset *d, const int *idx, int n, float *out) {
    int D = feat_dim(m);
    if (D <= 0) return bl_fail(BL_ERR_USAGE, "features: the model has no penultimate layer");
    return forward_copy(m, d, idx, n, m->nlayers - 1, D, out);
}

Status feat_logits(Model *m, const Dataset *d, const int *idx, int n, float *logits) {
    return forward_copy(m, d, idx, n, m->nlayers, m->num_classes, logits);
}

void feat_softmax(const float *logits, int K, double *p) {
    double mx = logits[0], s = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, logits[k]);
    for (int k = 0; k < K; k++) s += p[k] = exp((double)logits[k] - mx);
    for (int k = 0; k < K; k++) p[k] /= s;
}

double feat_entropy_bits(const double *p, int K) {
    double h = 0;
    for (int k = 0; k < K; k++)
        if (p[k] > 0) h -= p[k] * log2(p[k]);
    return h;
}

int feat_all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

void feat_mean_cov(const float *x, int n, int D, double *mean, double *cov) {
    for (int j = 0; j < D; j++) mean[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < D; j++) mean[j] += x[(size_t)i * D + j];
    for (int j = 0; j < D; j++) mean[j] = n ? mean[j] / n : 0;
    // each thread owns whole rows of cov; each entry sums over samples in order
#pragma omp parallel for schedule(dynamic, 4)
    for (int a = 0; a < D; a++) {
        double *row = cov + (size_t)a * D;
        for (int b = 0; b < D; b++) row[b] = 0;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * D;
            double da = xi[a] - mean[a];
            if (da == 0) continue;
            for (int b = a; b < D; b++) row[b] += da * (xi[b] - mean[b]);
        }
        for (int b = a; b < D; b++) row[b] = n ? row[b] / n : 0;
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < a; b++) cov[(size_t)a * D + b] = cov[(size_t)b * D + a];
}

Status feat_sym_eig(double *a, int d, double *w, double *v) {
    for (size_t i = 0; i < (size_t)d * d; i++)
        if (!isfinite(a[i])) return bl_fail(BL_ERR_RUN, "eigen-decomposition: the matrix has non-finite entries");
    // V accumulates the rotations as columns: A_final = V^T A V.
    double *V = calloc((size_t)d * d, sizeof(double));
    if (!V) return bl_fail(BL_ERR_RUN, "eigen-decomposition: out of memory");
    for (int i = 0; i < d; i++) V[(size_t)i * d + i] = 1;
    double total = 0;
    for (size_t i = 0; i < (size_t)d * d; i++) total += a[i] * a[i];
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) off += a[(size_t)p * d + q] * a[(size_t)p * d + q];
        if (off <= 1e-30 * total || off == 0) break;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) {
                double apq = a[(size_t)p * d + q];
                if (fabs(apq) < 1e-300) continue;
                double app = a[(size_t)p * d + p], aqq = a[(size_t)q * d + q];
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                // A <- J^T A J with J the rotation in the (p,q) plane
                for (int k = 0; k < d; k++) {
                    double akp = a[(size_t)k * d + p], akq = a[(size_t)k * d + q];
                    a[(size_t)k * d + p] = c * akp - s * akq;
                    a[(size_t)k * d + q] = s * akp + c * akq;
                }
                for (int k = 0; k < d; k++) {
                    double apk = a[(size_t)p * d + k], aqk = a[(size_t)q * d + k];
                    a[(size_t)p * d + k] = c * apk - s * aqk;
                    a[(size_t)q * d + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < d; k++) {
                    double vkp = V[(size_t)k * d + p], vkq = V[(size_t)k * d + q];
                    V[(size_t)k * d + p] = c * vkp - s * vkq;
                    V[(size_t)k * d + q] = s * vkp + c * vkq;
                }
            }
    }
    // sort by eigenvalue, descending (selection sort: d is small), eigenvectors to rows of v
    int *order = malloc((size_t)d * sizeof(int));
    if (!order) {
        free(V);
        return bl_fail(BL_ERR_RUN, "eigen-decomposition: out of memory");
    }
    for (int i = 0; i < d; i++) order[i] = i;
    for (int i = 0; i < d; i++) {
        int best = i;
        for (int j = i + 1; j < d; j++)
            if (a[(size_t)order[j] * d + order[j]] > a[(size_t)order[best] * d + order[best]]) best = j;
        int t = order[i];
        order[i] = order[best], order[best] = t;
    }
    for (int i = 0; i < d; i++) {
        int c = order[i];
        w[i] = a[(size_t)c * d + c];
        for (int k = 0; k < d; k++) v[(size_t)i * d + k] = V[(size_t)k * d + c];
    }
    free(order);
    free(V);
    return BL_OK;
}

Status feat_pca(const float *x, int n, int D, int k, float *out, double *explained) {
    if (k < 1 || k > D) return bl_fail(BL_ERR_USAGE, "PCA: %d components requested from %d dimensions", k, D);
    double *mean = malloc((size_t)D * sizeof(double)), *cov = malloc((size_t)D * D * sizeof(double));
    double *w = malloc((size_t)D * sizeof(double)), *v = malloc((size_t)D * D * sizeof(double));
    Status st = BL_OK;
    if (!mean || !cov || !w || !v) {
        st = bl_fail(BL_ERR_RUN, "PCA: out of memory");
        goto done;
    }
    feat_mean_cov(x, n, D, mean, cov);
    if ((st = feat_sym_eig(cov, D, w, v))) goto done;
    double tot = 0, kept = 0;
    for (int j = 0; j < D; j++) tot += fmax(0, w[j]);
    for (int j = 0; j < k; j++) kept += fmax(0, w[j]);
    if (explained) *explained = tot > 0 ? kept / tot : 0;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double s = 0;
            for (int t = 0; t < D; t++) s += (x[(size_t)i * D + t] - mean[t]) * v[(size_t)j * D + t];
            out[(size_t)i * k + j] = (float)s;
        }
done:
    free(mean);
    free(cov);
    free(w);
    free(v);
    return st;
}

Status feat_top_singular(const float *x, int n, int D, const double *center, int iters, Rng *rng, double *v,
                         double *sigma2) {
    // Gram matrix G = X^T X / n of the (optionally centred) rows, then power iteration on G.
    double *G = calloc((size_t)D * D, sizeof(double)), *u = malloc((size_t)D * sizeof(double));
    if (!G || !u) {
        free(G);
        free(u);
        return bl_fail(BL_ERR_RUN, "top singular vector: out of memory");
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int a = 0; a < D; a++) {
        double *row = G + (size_t)a * D;
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * D;
            double da = xi[a] - (center ? center[a] : 0);
            if (da == 0) continue;
            for (int b = a; b < D; b++) row[b] += da * (xi[b] - (center ? center[b] : 0));
        }
        for (int b = a; b < D; b++) row[b] = n ? row[b] / n : 0;
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < a; b++) G[(size_t)a * D + b] = G[(size_t)b * D + a];
    double norm = 0;
    for (int j = 0; j < D; j++) {
        v[j] = rng_normal(rng);
        norm += v[j] * v[j];
    }
    norm = sqrt(norm);
    for (int j = 0; j < D; j++) v[j] /= norm;
    double lambda = 0;
    for (int it = 0; it < iters; it++) {
        for (int a = 0; a < D; a++) {
            double s = 0;
            for (int b = 0; b < D; b++) s += G[(size_t)a * D + b] * v[b];
            u[a] = s;
        }
        double nu = 0;
        for (int a = 0; a < D; a++) nu += u[a] * u[a];
        nu = sqrt(nu);
        if (!(nu > 0) || !isfinite(nu)) { // zero matrix: any unit vector is "top"; keep v
            lambda = 0;
            break;
        }
        lambda = nu;
        for (int a = 0; a < D; a++) v[a] = u[a] / nu;
    }
    if (sigma2) *sigma2 = lambda;
    free(G);
    free(u);
    return BL_OK;
}

static double sqdist_fd(const float *a, const double *c, int dim) {
    double s = 0;
    for (int j = 0; j < dim; j++) {
        double d = a[j] - c[j];
        s += d * d;
    }
    return s;
}

// One k-means run from a k-means++ seeding. Returns the inertia; assign/cent are outputs.
static double kmeans_once(const float *x, int n, int dim, int k, int iters, Rng *rng, int *assign, double *cent,
                          double *d2, long *count) {
    // k-means++: first centre uniform, next ones with probability proportional to D(x)^2
    int first = (int)rng_below(rng, (uint64_t)n);
    for (int j = 0; j < dim; j++) cent[j] = x[(size_t)first * dim + j];
    for (int i = 0; i < n; i++) d2[i] = sqdist_fd(x + (size_t)i * dim, cent, dim);
    for (int c = 1; c < k; c++) {
        double tot = 0;
        for (int i = 0; i < n; i++) tot += d2[i];
        int pick = 0;
        if (tot > 0) {
            double r = rng_double(rng) * tot, acc = 0;
            pick = n - 1;
            for (int i = 0; i < n; i++) {
                acc += d2[i];
                if (acc > r) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (int)rng_below(rng, (uint64_t)n);
        }
        for (int j = 0; j < dim; j++) cent[(size_t)c * dim + j] = x[(size_t)pick * dim + j];
        for (int i = 0; i < n; i++) d2[i] = fmin(d2[i], sqdist_fd(x + (size_t)i * dim, cent + (size_t)c * dim, dim));
    }
    for (int i = 0; i < n; i++) assign[i] = -1;
    double inertia = 0;
    for (int it = 0; it < iters; it++) {
        long changed = 0;
        inertia = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            double bd = sqdist_fd(x + (size_t)i * dim, cent, dim);
            for (int c = 1; c < k; c++) {
                double dd = sqdist_fd(x + (size_t)i * dim, cent + (size_t)c * dim, dim);
                if (dd < bd) bd = dd, best = c;
            }
            changed += assign[i] != best;
            assign[i] = best;
            d2[i] = bd;
            inertia += bd;
        }
        if (!changed) break;
        for (int c = 0; c < k; c++) count[c] = 0;
        for (size_t j = 0; j < (size_t)k * dim; j++) cent[j] = 0;
        for (int i = 0; i < n; i++) {
            count[assign[i]]++;
            for (int j = 0; j < dim; j++) cent[(size_t)assign[i] * dim + j] += x[(size_t)i * dim + j];
        }
        for (int c = 0; c < k; c++) {
            if (count[c] == 0) { // re-seed an empty cluster with the worst-fitted point
                int far = 0;
                for (int i = 1; i < n; i++)
                    if (d2[i] > d2[far]) far = i;
                for (int j = 0; j < dim; j++) cent[(size_t)c * dim + j] = x[(size_t)far * dim + j];
                d2[far] = 0;
                continue;
            }
            for (int j = 0; j < dim; j++) cent[(size_t)c * dim + j] /= (double)count[c];
        }
    }
    return inertia;
}

double feat_kmeans(const float *x, int n, int dim, int k, int restarts, int iters, Rng *rng, int *assign,
                   double *centroids) {
    if (n < 1 || k < 1) {
        bl_fail(BL_ERR_USAGE, "k-means: needs at least one point and one cluster");
        return -1;
    }
    int *a = malloc((size_t)n * sizeof(int));
    double *cent = malloc((size_t)k * dim * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
    long *count = malloc((size_t)k * sizeof(long));
    double best = -1;
    if (!a || !cent || !d2 || !count) {
        bl_fail(BL_ERR_RUN, "k-means: out of memory");
        goto done;
    }
    for (int r = 0; r < BL_MAX(1, restarts); r++) {
        double in = kmeans_once(x, n, dim, k, iters, rng, a, cent, d2, count);
        if (best < 0 || in < best) {
            best = in;
            memcpy(assign, a, (size_t)n * sizeof(int));
            if (centroids) memcpy(centroids, cent, (size_t)k * dim * sizeof(double));
        }
    }
done:
    free(a);
    free(cent);
    free(d2);
    free(count);
    return best;
}

double feat_silhouette(const float *x, int n, int dim, const int *assign, int k) {
    if (n < 2 || k < 2) return 0;
    long *size = calloc((size_t)k, sizeof(long));
    double *s = malloc((size_t)n * sizeof(double));
    if (!size || !s) {
        free(size);
        free(s);
        return 0;
    }
    for (int i = 0; i < n; i++) size[assign[i]]++;
    int used = 0;
    for (int c = 0; c < k; c++) used += size[c] > 0;
    double mean = 0;
    if (used >= 2) {
#pragma omp parallel
        {
            double *sum = malloc((size_t)k * sizeof(double));
#pragma omp for schedule(dynamic, 64)
            for (int i = 0; i < n; i++) {
                if (!sum) { // out of memory in this thread: count the point as neutral
                    s[i] = 0;
                    continue;
                }
                for (int c = 0; c < k; c++) sum[c] = 0;
                const float *xi = x + (size_t)i * dim;
                for (int j = 0; j < n; j++) {
                    const float *xj = x + (size_t)j * dim;
                    double d = 0;
                    for (int t = 0; t < dim; t++) {
                        double e = (double)xi[t] - xj[t];
                        d += e * e;
                    }
                    sum[assign[j]] += sqrt(d);
                }
                int ci = assign[i];
                if (size[ci] <= 1) {
                    s[i] = 0;
                    continue;
                }
                double a = sum[ci] / (double)(size[ci] - 1), b = INFINITY;
                for (int c = 0; c < k; c++)
                    if (c != ci && size[c] > 0) b = fmin(b, sum[c] / (double)size[c]);
                double m = fmax(a, b);
                s[i] = m > 0 ? (b - a) / m : 0;
            }
            free(sum);
        }
        for (int i = 0; i < n; i++) mean += s[i];
        mean /= n;
    }
    free(size);
    free(s);
    return mean;
}

double feat_normal_quantile(double p) {
    // Acklam's algorithm: rational approximations in the central region and the two tails.
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0)) return -INFINITY;
    if (!(p < 1)) return INFINITY;
    const double plow = 0.02425;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - plow) {
        double q = sqrt(-2 * log(1 - p));
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double feat_upper_threshold(const float *scores, int n, double rate) {
    float *s = malloc((size_t)n * sizeof(float));
    if (!s || n < 1) {
        free(s);
        return INFINITY;
    }
    int m = 0; // NaN scores are dropped: they have no place in an order
    for (int i = 0; i < n; i++)
        if (!isnan(scores[i])) s[m++] = scores[i];
    if (m == 0) {
        free(s);
        return INFINITY;
    }
    n = m;
    qsort(s, (size_t)n, sizeof(float), cmp_float);
    int allowed = (int)floor(rate * n + 1e-9); // clean inputs we may reject
    if (allowed > n - 1) allowed = n - 1;
    double t = s[n - 1 - allowed];
    free(s);
    return t;
}

int feat_label_rows(const Dataset *tr, int c, const float *R, int D, int min_class, int *idx, float *Rc,
                    DefenseResult *out, cJSON *labels, cJSON **entry) {
    int nc = 0;
    *entry = NULL;
    for (int i = 0; i < tr->n; i++)
        if (tr->labels[i] == c) idx[nc++] = i;
    if (nc == 0) return 0;
    cJSON *lj = cJSON_CreateObject();
    cJSON_AddNumberToObject(lj, "label", c);
    cJSON_AddNumberToObject(lj, "n", nc);
    cJSON_AddItemToArray(labels, lj);
    *entry = lj;
    if (nc < min_class) {
        defense_note(out, "label %d: %d sample(s) < min_class %d, skipped", c, nc, min_class);
        cJSON_AddStringToObject(lj, "skipped", "too few samples");
        return 0;
    }
    for (int k = 0; k < nc; k++) memcpy(Rc + (size_t)k * D, R + (size_t)idx[k] * D, (size_t)D * sizeof(float));
    if (!feat_all_finite(Rc, (size_t)nc * D)) {
        defense_note(out, "label %d: non-finite activations, skipped", c);
        cJSON_AddStringToObject(lj, "skipped", "non-finite activations");
        return 0;
    }
    return nc;
}
