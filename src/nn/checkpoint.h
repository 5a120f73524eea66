// checkpoint.h: save a Model to a .bdm file and load one back, checking it fits the expected architecture.
#ifndef BL_CHECKPOINT_H
#define BL_CHECKPOINT_H

#include "nn/model.h"

// Write m's canonical description and parameters (plus a provenance text, may be NULL) atomically to path.
// hex_out (may be NULL) receives the model's content SHA-256.
Status model_save(const Model *m, const char *path, const char *provenance, char hex_out[65]);

// Load a model file into a freshly built Model for inputs of shape `input` and `num_classes` outputs.
// expected_desc (may be NULL) is the architecture the caller's config asks for; a file whose network differs
// is refused (BL_ERR_DATA) naming both. hex_out (may be NULL) receives the content hash.
Status model_load(const char *path, Shape input, int num_classes, int max_batch, const char *expected_desc,
                  Model *m, char hex_out[65]);

// model_load that, when trusted_key (path of a KEY.pub file from `backdoorlab keygen`) is not NULL or "",
// requires the file to carry a valid signature by that key: an unsigned model, another signer, a bad signature
// or any modified byte is refused (BL_ERR_DATA) before a weight is used. A missing or malformed key file is
// BL_ERR_USAGE / BL_ERR_DATA. Without a trusted key this is model_load (the SHA-256 check still runs, and a
// signed file's signature is still checked against its own key). Every command that loads a model should call
// this one and pass its --trusted-key option.
Status model_load_trusted(const char *path, const char *trusted_key, Shape input, int num_classes, int max_batch,
                          const char *expected_desc, Model *m, char hex_out[65]);

#endif
