// safetensors.h: the safetensors format (Hugging Face), float32 tensors only: the interchange format for
// model weights with PyTorch and NumPy (export, external defences).
//
// Layout: u64 little-endian N, then N bytes of JSON: {"__metadata__": {"k": "v", ...}, "NAME": {"dtype": "F32",
// "shape": [..], "data_offsets": [BEGIN, END]}, ...} (padded with spaces to a multiple of 8), then the data;
// offsets are relative to the data's start, tensors are contiguous and do not overlap.
#ifndef BL_SAFETENSORS_H
#define BL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define ST_MAX_DIMS 8

typedef struct {
    char name[128];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t count;       // product of shape
    const float *data;  // write: the caller's values; read: points into StFile.data
} StTensor;

typedef struct {
    int ntensors;
    StTensor *tensors;  // (ntensors) in file order (sorted by data offset), owned
    void *meta;         // the "__metadata__" object (a cJSON *, owned), NULL when absent
    float *data;        // all tensor values, owned
} StFile;

// Write tensors and string metadata (pairs key, value, ... ending with NULL; may be NULL) atomically.
Status st_write(const char *path, const StTensor *t, int n, const char *const *meta);

// Read and validate a file: header length within the file and max_bytes, JSON that parses, every tensor F32 with
// a shape whose size matches its offsets, offsets inside the data, contiguous, not overlapping, covering all of
// it, metadata values strings. Bad content: BL_ERR_DATA naming the file and the problem.
Status st_read(const char *path, size_t max_bytes, StFile *out);

// The tensor named name, or NULL; a metadata value, or NULL.
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

void st_free(StFile *f);

#endif
