/* tiles.h: the tiles of lanes.h: a layer's dots (shared weights over the same laned
 * inputs) run together, four dots by eight rows in registers, forward and backward.
 * Part of lanes.h (compiled once per CPU target with it), split out for its length:
 * it uses lanes.h's v4 helpers, in_of, give and grad_of. No include guard: lanes.h
 * includes it once per translation unit.
 */

/* the dots of a tile, q = 0..3, each statement written once (EACH_Q_DOWN: the last
 * dot first, as backward() meets them) */
#define EACH_Q(X) X(0) X(1) X(2) X(3)
#define EACH_Q_DOWN(X) X(3) X(2) X(1) X(0)
_Static_assert(TILE == 4, "EACH_Q names four dots");

/* the inputs of the tile at j on rows b0..b1, ROWS rows at a time, packed:
 * xp[(block * np + p) * ROWS + k] is input p on row b0 + block * ROWS + k, so that the
 * tiles of a layer read them as one stream (the rows after the last whole block stay
 * in their lanes) */
static void pack_inputs(const mg_batch *b, int32_t j, int64_t b0, int64_t b1, double *xp)
{
    const bnode *n = &b->nodes[j];
    int32_t np = (n->nk - 1) / 2;
    const int32_t *xs = b->xslot + n->xat;
    for (int64_t r = b0; r + ROWS <= b1; r += ROWS)
        for (int32_t p = 0; p < np; p++)
            memcpy(xp + ((r - b0) / ROWS * np + p) * ROWS, b->ldata + xs[p] * b->cap + r,
                   ROWS * sizeof(double));
}

/* the nt dots of the tile at j (nt <= TILE: a constant where it is called), rows
 * b0..b1, its inputs packed in xp: row r of dot q is start + w[0][q] * x[0][r] +
 * w[1][q] * x[1][r] + ..., in that order, ROWS rows of TILE dots in registers */
static HOT_INLINE void tile_rows(mg_batch *b, int32_t j, const int nt, int64_t b0, int64_t b1,
                                 const double *xp)
{
    const bnode *n = &b->nodes[j];
    int32_t np = (n->nk - 1) / 2;
    const double *w = b->wpack + n->wat, *ld = b->ldata;
    const int32_t *xs = b->xslot + n->xat;
    int64_t cap = b->cap, r = b0;
    lane_in start[TILE];
    double *out[TILE];
    for (int q = 0; q < nt; q++) {
        start[q] = in_of(b, b->kids[n[q].k0]);
        out[q] = b->ldata + (int64_t)n[q].slot * cap;
    }
    for (; r + ROWS <= b1; r += ROWS) {
#define START(q) v4 a##q##0 = { 0 }, a##q##1 = { 0 };                                   \
        if (nt > q && start[q].s) {                                                     \
            a##q##0 = load4(start[q].v + r);                                            \
            a##q##1 = load4(start[q].v + r + 4);                                        \
        } else if (nt > q) {                                                            \
            a##q##0 = a##q##1 = broadcast4(start[q].v[0]);                              \
        }
        EACH_Q(START)
        const double *x = xp + (r - b0) / ROWS * np * ROWS;
        for (int32_t p = 0; p < np; p++, x += ROWS) {
            v4 x0 = load4(x), x1 = load4(x + 4);
            const double *wp = w + p * TILE;
#define STEP(q) if (nt > q) {                                                           \
            a##q##0 = a##q##0 + wp[q] * x0;                                             \
            a##q##1 = a##q##1 + wp[q] * x1;                                             \
        }
            EACH_Q(STEP)
        }
#define STORE(q) if (nt > q) {                                                          \
            store4(out[q] + r, &a##q##0);                                               \
            store4(out[q] + r + 4, &a##q##1);                                           \
        }
        EACH_Q(STORE)
    }
    for (; r < b1; r++) {
        for (int q = 0; q < nt; q++) {
            double s = start[q].v[r * start[q].s];
            for (int32_t p = 0; p < np; p++)
                s = s + w[p * TILE + q] * ld[xs[p] * cap + r];
            out[q][r] = s;
        }
    }
}

static void tile_forward(mg_batch *b, int32_t j, int64_t b0, int64_t b1, const double *xp)
{
    switch (b->nodes[j].tile) {     /* each size its own unrolled copy */
    case 4: tile_rows(b, j, 4, b0, b1, xp); break;
    case 3: tile_rows(b, j, 3, b0, b1, xp); break;
    case 2: tile_rows(b, j, 2, b0, b1, xp); break;
    default: tile_rows(b, j, 1, b0, b1, xp); break;
    }
}

/* The backward of a layer: the tiles of steps s0..s1, whose K dots (k = 0..K-1 in
 * the order of the graph) share their inputs. Each input's grad gets the K terms
 * w[k][p] * g[k] on every row, the last dot's first (as backward() one node after
 * another), four inputs by ROWS rows in registers; each weight's grad is x[p] * g[k]
 * summed over the chunk's rows in ROWS partial sums (into wgrad), a block of PB
 * inputs at a time for every tile, so that their lanes stay in the first cache. */
#define PB 8

/* rows b0..b1 of input grads xg[0..4) (m of them: a constant where it is called) */
static HOT_INLINE void input_grads(const mg_batch *b, double *const *xg, const int m,
                                   const int32_t *ks, const int64_t *kw, int32_t K, int32_t p,
                                   int64_t b0, int64_t b1)
{
    const double *lg = b->lgrad, *wp = b->wpack;
    int64_t cap = b->cap, r = b0;
    for (; r + ROWS <= b1; r += ROWS) {
#define LOAD_T(i) v4 t##i##0 = { 0 }, t##i##1 = { 0 };                                  \
        if (m > i) {                                                                    \
            t##i##0 = load4(xg[i] + r);                                                 \
            t##i##1 = load4(xg[i] + r + 4);                                             \
        }
        EACH_Q(LOAD_T)
        for (int32_t k = K - 1; k >= 0; k--) {
            const double *g = lg + ks[k] * cap + r, *w = wp + kw[k] + p * TILE;
            v4 h0 = load4(g), h1 = load4(g + 4);
#define TERM(i) if (m > i) {                                                            \
            t##i##0 = t##i##0 + w[i * TILE] * h0;                                       \
            t##i##1 = t##i##1 + w[i * TILE] * h1;                                       \
        }
            EACH_Q(TERM)
        }
#define STORE_T(i) if (m > i) {                                                         \
            store4(xg[i] + r, &t##i##0);                                                \
            store4(xg[i] + r + 4, &t##i##1);                                            \
        }
        EACH_Q(STORE_T)
    }
    for (; r < b1; r++) {
        for (int i = 0; i < m; i++) {
            double t = xg[i][r];
            for (int32_t k = K - 1; k >= 0; k--)
                t = t + wp[kw[k] + (p + i) * TILE] * lg[ks[k] * cap + r];
            xg[i][r] = t;
        }
    }
}

/* the weights' grads of the tile at j for inputs p0..p1, over rows b0..b1 */
static HOT_INLINE void weight_grads(mg_batch *b, int32_t j, const int nt, int32_t p0, int32_t p1,
                                    int64_t b0, int64_t b1, int64_t chunk)
{
    const bnode *n = &b->nodes[j];
    const double *ld = b->ldata;
    double *wg = b->wgrad + chunk * b->tiled + n->wat;
    const int32_t *xs = b->xslot + n->xat;
    int64_t cap = b->cap;
    const double *g0 = grad_of(b, j), *g1 = NULL, *g2 = NULL, *g3 = NULL;
    if (nt > 1) g1 = grad_of(b, j + 1);
    if (nt > 2) g2 = grad_of(b, j + 2);
    if (nt > 3) g3 = grad_of(b, j + 3);
    for (int32_t p = p0; p < p1; p++) {
        const double *xv = ld + xs[p] * cap;
        v4 c00 = { 0 }, c01 = { 0 }, c10 = { 0 }, c11 = { 0 };
        v4 c20 = { 0 }, c21 = { 0 }, c30 = { 0 }, c31 = { 0 };
        int64_t r = b0;
        for (; r + ROWS <= b1; r += ROWS) {
            v4 x0 = load4(xv + r), x1 = load4(xv + r + 4);
#define WSUM(q) if (nt > q) {                                                           \
            c##q##0 = c##q##0 + x0 * load4(g##q + r);                                   \
            c##q##1 = c##q##1 + x1 * load4(g##q + r + 4);                               \
        }
            EACH_Q(WSUM)
        }
        for (; r < b1; r++) {
            int64_t k = (r - b0) % ROWS;
#define WSUM_ROW(q) if (nt > q && k < 4)                                                \
                c##q##0[k] += xv[r] * g##q[r];                                          \
            else if (nt > q)                                                            \
                c##q##1[k - 4] += xv[r] * g##q[r];
            EACH_Q(WSUM_ROW)
        }
#define WEIGHT(q) if (nt > q)                                                           \
            wg[p * TILE + q] = sum8(&c##q##0, &c##q##1);
        EACH_Q(WEIGHT)
    }
}

static void layer_backward(mg_batch *b, int32_t s0, int32_t s1, int64_t b0, int64_t b1,
                           int64_t chunk)
{
    const bnode *first = &b->nodes[b->steps[s0]], *last = &b->nodes[b->steps[s1]];
    int32_t np = (first->nk - 1) / 2, k0 = first->kat, K = last->kat + last->tile - k0;
    const int32_t *ks = b->kslot + k0, *xs = b->xslot + first->xat;
    const int64_t *kw = b->kw + k0;
    for (int32_t k = K - 1; k >= 0; k--)        /* the first sums */
        give(b, b->kids[b->nodes[b->kdot[k0 + k]].k0], b->lgrad + ks[k] * b->cap + b0, b0, b1,
             chunk);
    int32_t p = 0;
    for (; p + 4 <= np; p += 4) {
        double *xg[4];
        for (int i = 0; i < 4; i++)
            xg[i] = b->lgrad + xs[p + i] * b->cap;
        input_grads(b, xg, 4, ks, kw, K, p, b0, b1);
    }
    for (; p < np; p++) {
        double *xg[4] = { b->lgrad + xs[p] * b->cap };
        input_grads(b, xg, 1, ks, kw, K, p, b0, b1);
    }
    for (int32_t p0 = 0; p0 < np; p0 += PB) {
        int32_t p1 = p0 + PB < np ? p0 + PB : np;
        for (int32_t s = s0; s <= s1; s++) {
            int32_t j = b->steps[s];
            switch (b->nodes[j].tile) {     /* each size its own unrolled copy */
            case 4: weight_grads(b, j, 4, p0, p1, b0, b1, chunk); break;
            case 3: weight_grads(b, j, 3, p0, p1, b0, b1, chunk); break;
            case 2: weight_grads(b, j, 2, p0, p1, b0, b1, chunk); break;
            default: weight_grads(b, j, 1, p0, p1, b0, b1, chunk); break;
            }
        }
    }
}

