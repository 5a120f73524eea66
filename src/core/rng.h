// rng.h: seeded random-number streams, one per purpose, derived from the experiment seed.
// xoshiro256** seeded through splitmix64; a stream is (seed, purpose name), so adding a new purpose never
// shifts the numbers another purpose sees. Never the C library's global generator.
#ifndef BL_RNG_H
#define BL_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4]; // xoshiro256** state
} Rng;

// Stream names in use: "init", "shuffle", "poison", "trigger", "split", "overlay", "test".
Rng rng_stream(uint64_t seed, const char *purpose);
uint64_t rng_u64(Rng *r);
// Uniform in [0, 1) with 24 random bits (exactly representable as float).
float rng_uniform(Rng *r);
// Uniform double in [0, 1) with 53 random bits.
double rng_double(Rng *r);
// Uniform integer in [0, n), unbiased (rejection sampling). n > 0.
uint64_t rng_below(Rng *r, uint64_t n);
// Standard normal (Box-Muller, double precision, no cached second value so streams stay simple).
double rng_normal(Rng *r);
// Fisher-Yates shuffle of an int array.
void rng_shuffle_int(Rng *r, int *a, int n);

#endif
