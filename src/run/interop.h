// interop.h: models and datasets out to open formats (safetensors, .npy) and repaired models back in, so that
// code outside the testbed (PyTorch, NumPy, a defence in any language) reads exactly what the testbed trained.
//
// Tensor names and layouts are an nn.Sequential's: network item i holds "i.weight" and "i.bias" in PyTorch's
// layout (conv (OUT,C,K,K), dense (OUT,IN), embed (V,D)); a records model's leading standardize holds "0.mean"
// and "0.scale". The metadata says how to rebuild the Sequential (README: "Write your own defence").
#ifndef BL_INTEROP_H
#define BL_INTEROP_H

#include "core/core.h"
#include "data/dataset.h"
#include "nn/model.h"

// Write m's weights to path as safetensors with the metadata of the contract. source_sha256 (the .bdm content
// hash) and signer (a fingerprint) may be NULL or "".
Status interop_model_write(const Model *m, const char *source_sha256, const char *signer, const char *path);

// Read a safetensors file written for m's architecture into m's parameters: every tensor m has, with its shape,
// nothing else, all values finite. Anything else is BL_ERR_DATA naming the file and the tensor; m is unchanged
// on error.
Status interop_model_read(const char *path, Model *m);

// `backdoorlab export --model`: load a .bdm (its signature checked against trusted_key when given) and write it.
Status interop_export_model_file(const char *bdm_path, const char *trusted_key, const char *out_path);

// Write d as the model's inputs: DIR/PREFIX_x.npy (images float32 (N,C,H,W) in [0,1]; records float32 (N,2F):
// values then missing flags; tokens int32 (N,L) ids of m's vocabulary) and, when labels, DIR/PREFIX_y.npy
// (int64 (N)). m gives the vocabulary and input shape.
Status interop_dataset_write(const Model *m, const Dataset *d, const char *dir, const char *prefix, int labels);

// "images", "records" or "tokens": what m reads (a leading embed = tokens, a leading standardize = records).
const char *interop_input_kind(const Model *m);

#endif

// `backdoorlab eval --inputs X.npy --logits OUT.npy`: the model's logits (float32 (N,K)) on inputs given as an
// array of model inputs (float32, or int32 token ids for a text model; shape (N, input...) or (N, input size)),
// as a check that an exported model computes the same function elsewhere.
Status interop_logits(const char *bdm_path, const char *trusted_key, const char *x_path, const char *out_path);
