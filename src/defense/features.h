// features.h: what the detectors compute with: feature taps on a model (penultimate representations,
// softmax outputs) and the small linear algebra they need (covariance, symmetric eigen-decomposition, PCA, top
// singular vector, k-means++, silhouette, the normal quantile, entropy). Everything is deterministic for a
// given seed and independent of the thread count (parallel loops own disjoint outputs; sums run in a fixed
// order).
#ifndef BL_FEATURES_H
#define BL_FEATURES_H

#include <stdint.h>

#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "defense/defense.h"
#include "nn/model.h"

// Size of the penultimate representation: the input of the model's last layer (for the reference-cnn the
// 128 ReLU outputs feeding the final dense layer). 0 for a one-layer model.
int feat_dim(const Model *m);

// Forward the samples idx[0..n) of d (idx NULL = samples 0..n-1) and copy each one's penultimate
// representation into out (n, feat_dim(m)). Runs in batches of m->max_batch.
Status feat_penultimate(Model *m, const Dataset *d, const int *idx, int n, float *out);

// Forward the samples idx[0..n) of d (idx NULL = 0..n-1); logits (n, K) receives the model's logits.
Status feat_logits(Model *m, const Dataset *d, const int *idx, int n, float *logits);

// Softmax of one row of K logits into p (K), in double for stability.
void feat_softmax(const float *logits, int K, double *p);

// Shannon entropy in bits of a probability vector (K); terms with p = 0 contribute 0.
double feat_entropy_bits(const double *p, int K);

// 1 when all n*d values are finite.
int feat_all_finite(const float *x, size_t n);

// mean (D) and covariance (D, D) (divided by n) of the n rows of x (n, D), in double.
void feat_mean_cov(const float *x, int n, int D, double *mean, double *cov);

// Eigen-decomposition of the symmetric matrix a (d, d) by cyclic Jacobi rotations; a is destroyed.
// Eigenvalues in w (d), sorted descending; the matching unit eigenvectors are the ROWS of v (d, d).
// BL_ERR_RUN on out of memory or non-finite input.
Status feat_sym_eig(double *a, int d, double *w, double *v);

// PCA: centre the rows of x (n, D) and project them on the top k principal axes: out (n, k). explained
// (may be NULL) receives the fraction of variance the k axes keep (0 when the total variance is 0).
Status feat_pca(const float *x, int n, int D, int k, float *out, double *explained);

// Top right singular vector v (D) of the matrix whose rows are x_i - center (center NULL = uncentred), by
// power iteration on its Gram matrix (iters iterations, seeded random start). sigma2 (may be NULL) receives the
// top eigenvalue of (X^T X)/n. BL_ERR_RUN on out of memory.
Status feat_top_singular(const float *x, int n, int D, const double *center, int iters, Rng *rng, double *v,
                         double *sigma2);

// k-means with k-means++ seeding, `restarts` seeded restarts and up to `iters` Lloyd iterations each; keeps the
// restart with the lowest inertia. assign (n) in [0,k); centroids (k, dim) may be NULL. Returns the inertia
// (sum of squared distances), or -1 on out of memory (error set). An empty cluster is re-seeded with the point
// farthest from its centroid.
double feat_kmeans(const float *x, int n, int dim, int k, int restarts, int iters, Rng *rng, int *assign,
                   double *centroids);

// Mean silhouette coefficient (Rousseeuw 1987) of a clustering of the rows of x (n, dim), exact O(n^2 dim).
// Points in a singleton cluster score 0 (the sklearn convention). Returns 0 when fewer than 2 clusters are used.
double feat_silhouette(const float *x, int n, int dim, const int *assign, int k);

// Inverse of the standard normal CDF (Acklam's rational approximation, |relative error| < 1.2e-9), p in (0,1).
double feat_normal_quantile(double p);

// The smallest value t among scores (n) such that at most a fraction `rate` of them are > t (an empirical
// upper quantile); used to turn a false-rejection target into a threshold on clean scores. n >= 1.
double feat_upper_threshold(const float *scores, int n, double rate);

// Per-label rows for the sample-level detectors (AC, spectral): gather the representations R (n, D) of the
// training samples labelled c into Rc (nc, D) and their indices into idx, and add an entry {"label", "n"} to the
// JSON array `labels` (*entry, NULL when the label is absent). Returns nc, or 0 when the label is absent or is
// skipped (fewer than min_class samples, or non-finite values), noting why in out->notes and the entry.
struct cJSON;
int feat_label_rows(const Dataset *tr, int c, const float *R, int D, int min_class, int *idx, float *Rc,
                    DefenseResult *out, struct cJSON *labels, struct cJSON **entry);

#endif
