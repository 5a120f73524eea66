// npy.h: NumPy's .npy files (format 1.0 written; 1.0 and 2.0 read), for handing data to and taking scores from
// programs outside the testbed (export, external defences).
//
// Layout: "\x93NUMPY", major, minor, header length (u16 LE in 1.0, u32 in 2.0), then a Python dict literal
// "{'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W), }" padded with spaces and ended by '\n' so
// that the data starts at a multiple of 64 bytes, then the values, C order, little-endian.
#ifndef BL_NPY_H
#define BL_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum { NPY_F32, NPY_F64, NPY_U8, NPY_BOOL, NPY_I32, NPY_I64 } NpyType;

#define NPY_MAX_DIMS 8

typedef struct {
    NpyType type;
    int ndim;                       // 0 (a scalar) .. NPY_MAX_DIMS
    int64_t shape[NPY_MAX_DIMS];
    size_t count;                   // product of shape (1 for a scalar)
    void *data;                     // (count) values of `type`, owned
} NpyArray;

// Bytes per value of a type.
size_t npy_type_size(NpyType t);

// Write an array atomically (temp + rename). data holds prod(shape) values of type t.
Status npy_write(const char *path, NpyType t, int ndim, const int64_t *shape, const void *data);

// Read and validate a whole file: magic, version, a header that is a dict with exactly the three keys, a known
// descr (little-endian or byte-sized), C order, a shape whose size matches the file's remaining length exactly.
// Files over max_bytes are refused before anything is allocated. Bad content: BL_ERR_DATA naming the file.
Status npy_read(const char *path, size_t max_bytes, NpyArray *out);

// A one-dimensional numeric array of exactly n values (any NpyType; bool and ints converted), as doubles
// (malloc'ed into *out). A wrong shape or length is BL_ERR_DATA saying what was expected.
Status npy_read_vector(const char *path, size_t n, double **out);

void npy_free(NpyArray *a);

#endif
