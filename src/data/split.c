// split.c: the defender split. Carved first and never poisoned, so a defence that uses "known clean" data
// really gets clean data.
#include "data/split.h"

#include <math.h>
#include <string.h>

#include "core/rng.h"

Status split_defender(const Dataset *train, double fraction, uint64_t seed, Dataset *defender, Dataset *rest) {
    memset(defender, 0, sizeof *defender);
    memset(rest, 0, sizeof *rest);
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return bl_fail(BL_ERR_USAGE, "defender fraction %g is outside [0, 1]", fraction);
    int n = train->n;
    int k = (int)floor(fraction * n + 0.5);
    if (k > n) k = n;
    size_t cnt = (size_t)(n ? n : 1);
    int *perm = bl_alloc(cnt * sizeof(int));   // (n) shuffled 0..n-1; the first k go to the defender
    uint8_t *mark = bl_alloc(cnt);             // (n) 1 = defender sample
    int *didx = bl_alloc(cnt * sizeof(int));   // (k) defender indices in original order
    int *ridx = bl_alloc(cnt * sizeof(int));   // (n-k) remaining indices in original order
    Status st = BL_ERR_RUN;
    if (!perm || !mark || !didx || !ridx) goto done;
    for (int i = 0; i < n; i++) perm[i] = i;
    Rng r = rng_stream(seed, "split");
    rng_shuffle_int(&r, perm, n);
    for (int i = 0; i < k; i++) mark[perm[i]] = 1;
    int nd = 0, nr = 0;
    for (int i = 0; i < n; i++) {
        if (mark[i]) didx[nd++] = i;
        else ridx[nr++] = i;
    }
    st = ds_select(train, didx, nd, defender);
    if (st) goto done;
    st = ds_select(train, ridx, nr, rest);
    if (st) ds_free(defender);
done:
    bl_free(perm);
    bl_free(mark);
    bl_free(didx);
    bl_free(ridx);
    return st;
}
