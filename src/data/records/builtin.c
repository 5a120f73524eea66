// builtin.c: the built-in tabular datasets (see builtin.h): where each file is, what it must contain, how its
// classes are named.
#include "data/records/builtin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "data/records/rda.h"
#include "data/records/table.h"

// scikit-learn's documented feature names for breast_cancer.csv (sklearn/datasets/_base.py, load_breast_cancer),
// plus the target column.
static const char *const bc_columns[] = {
    "mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness", "mean compactness",
    "mean concavity", "mean concave points", "mean symmetry", "mean fractal dimension", "radius error",
    "texture error", "perimeter error", "area error", "smoothness error", "compactness error", "concavity error",
    "concave points error", "symmetry error", "fractal dimension error", "worst radius", "worst texture",
    "worst perimeter", "worst area", "worst smoothness", "worst compactness", "worst concavity",
    "worst concave points", "worst symmetry", "worst fractal dimension", "target",
};

// Pima columns whose zeros mean "not measured".
static const char *const pima_zero_missing[] = {"glucose", "pressure", "triceps", "insulin", "mass"};

typedef struct {
    const char *name;     // dataset name
    const char *file;     // file in the dataset folder
    const char *object;   // .rda: the data frame's name; NULL for the CSV
    const char *label;    // label column
    int rows;             // expected rows (train + test)
    int features;         // expected encoded features
    int classes;          // expected classes
} Builtin;

static const Builtin builtins[] = {
    {"breast-cancer", "breast_cancer.csv", NULL, "target", 569, 30, 2},
    {"pima-diabetes", "PimaIndiansDiabetes.rda", "PimaIndiansDiabetes", "diabetes", 768, 8, 2},
    {"satellite", "Satellite.rda", "Satellite", "classes", 6435, 36, 6},
    {"shuttle", "Shuttle.rda", "Shuttle", "Class", 58000, 9, 7},
    {"letter", "LetterRecognition.rda", "LetterRecognition", "lettr", 20000, 16, 26},
};

const char *records_builtin_dir(void) { return "datasets/tabular"; }

const char *records_builtin_name(int i) {
    return i >= 0 && i < (int)BL_ARRAY_LEN(builtins) ? builtins[i].name : NULL;
}

int records_is_builtin(const char *name) {
    for (size_t i = 0; name && i < BL_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0) return 1;
    return 0;
}

Status records_load_csv(const CsvOptions *opt, DatasetPair *out) { return csv_load_pair(opt, out); }

// breast_cancer.csv's first line: "569,30,malignant,benign" (rows, features, class 0 name, class 1 name).
static Status bc_first_line(const char *path, char names[2][DS_NAME_MAX]) {
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: cannot open (%s); run scripts/fetch-tabular.sh", path, strerror(errno));
    char line[256];
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    int rows = 0, feats = 0;
    char a[DS_NAME_MAX], b[DS_NAME_MAX];
    if (!ok || sscanf(line, "%d,%d,%63[^,\r\n],%63[^,\r\n]", &rows, &feats, a, b) != 4 || rows != 569 || feats != 30)
        return bl_fail(BL_ERR_DATA, "%s: line 1 is not \"569,30,<class 0>,<class 1>\" (not scikit-learn's "
                       "breast_cancer.csv?); run scripts/fetch-tabular.sh", path);
    snprintf(names[0], DS_NAME_MAX, "%s", a);
    snprintf(names[1], DS_NAME_MAX, "%s", b);
    return BL_OK;
}

Status records_load_builtin_ex(const char *name, const RecordsBuiltinOptions *opt, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    static const RecordsBuiltinOptions defaults = {0};
    if (!opt) opt = &defaults;
    const Builtin *b = NULL;
    for (size_t i = 0; name && i < BL_ARRAY_LEN(builtins); i++)
        if (strcmp(builtins[i].name, name) == 0) b = &builtins[i];
    if (!b)
        return bl_fail(BL_ERR_USAGE, "unknown built-in tabular dataset '%s' (known: breast-cancer, pima-diabetes, "
                       "satellite, shuttle, letter)", name ? name : "(null)");
    char path[sizeof out->source];
    const char *dir = opt->dir ? opt->dir : records_builtin_dir();
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, b->file) >= sizeof path)
        return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);

    Table t;
    char bc_names[2][DS_NAME_MAX];
    Status st;
    if (!b->object) {
        if ((st = bc_first_line(path, bc_names))) return st;
        CsvOptions co = {.path = path, .skip_rows = 1, .column_names = bc_columns,
                         .ncolumn_names = (int)BL_ARRAY_LEN(bc_columns)};
        st = csv_read_tables(path, NULL, &co, &t, NULL);
    } else {
        st = rda_read(path, b->object, &t);
    }
    if (st) return bl_fail_ctx(st, "%s (run scripts/fetch-tabular.sh if the file is missing)", b->name);
    if (b->object && strcmp(b->name, "pima-diabetes") == 0 && !opt->pima_zeros_as_values)
        for (size_t k = 0; k < BL_ARRAY_LEN(pima_zero_missing); k++) {
            int j = table_find(&t, pima_zero_missing[k]);
            if (j < 0 || t.cols[j].kind != TABLE_NUMERIC) {
                table_free(&t);
                return bl_fail(BL_ERR_DATA, "%s: no numeric column '%s'; run scripts/fetch-tabular.sh", path,
                               pima_zero_missing[k]);
            }
            TableCol *c = &t.cols[j];
            for (int r = 0; r < t.nrows; r++)
                if (!c->missing[r] && c->num[r] == 0.0) c->missing[r] = 1;
        }
    TableSpec spec = {.label = b->label, .test_fraction = RECORDS_BUILTIN_TEST_FRACTION, .seed = RECORDS_BUILTIN_SEED};
    st = table_to_pair(&t, NULL, &spec, out);
    table_free(&t);
    if (st) return bl_fail_ctx(st, "%s", b->name);
    if (out->train.n + out->test.n != b->rows || out->train.c != b->features || out->train.num_classes != b->classes) {
        st = bl_fail(BL_ERR_DATA, "%s: %d rows x %d features, %d classes; expected %d x %d, %d classes (a different "
                     "file?); run scripts/fetch-tabular.sh", path, out->train.n + out->test.n, out->train.c,
                     out->train.num_classes, b->rows, b->features, b->classes);
        ds_pair_free(out);
        return st;
    }
    if (!b->object)
        for (int k = 0; k < 2; k++) memcpy(out->schema->class_names[k], bc_names[k], DS_NAME_MAX);
    snprintf(out->source, sizeof out->source, "%s", path);
    st = ds_pair_hash(out);
    if (st) ds_pair_free(out);
    return st;
}

Status records_load_builtin(const char *name, DatasetPair *out) { return records_load_builtin_ex(name, NULL, out); }
