/*
 * Placement found in the picture: finds the marker of protocol/src/marker.c
 * (PROTOCOL.md, section 10) in the client's copy of the guest display.
 *
 * Per invalidated area: (1) rows every SEED_STEP pixels are split into flat
 * grey runs; a chain of evenly spaced edges between runs of alternating
 * parity is a candidate lattice. (2) A column through the candidate gives
 * the vertical spacing; the 16 sub-blocks of the cell around the seed are
 * read at each of the 16 phases until one passes the CRC with a watched
 * code. (3) The cell's column and row place the lattice; edges measured to a
 * fraction of a pixel along up to 16 rows and 32 columns are fitted by least
 * squares to the frame's origin and sub-block size. (4) The visible region
 * is where the pixels of the invalidated area match the expected lattice.
 * Work is bounded by the area (plus a fixed number of rows and columns per
 * found mark) and a cap on the candidates tried.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <videoredir/client.h>
#include <videoredir/marker.h>

#define N_CODES (VR_MARKER_CODE_MAX + 1)
#define MAX_LINE 16384       /* pixels of one scanned row or column */
#define MAX_EDGES 4096       /* edges kept per line */
#define SEED_STEP 4          /* rows between seed rows: sub-blocks are >= 8 px tall at the smallest size supported */
#define MAX_ATTEMPTS 64      /* candidate cells decoded per scan */
#define MIN_RUN 2            /* shorter flat runs are transitions */
#define MAX_GAP 3            /* transition pixels allowed between two runs */
#define MIN_GROUP_EDGES 4    /* evenly spaced edges that make a candidate */
#define LEVEL_TOL 28         /* |luma - nominal level| to classify a pixel */
#define MATCH_TOL 16         /* |luma - calibrated level| for the visible region */
#define GREY_TOL 48          /* max - min of R, G, B of a grey pixel */
#define EDGE_MARGIN 1.5      /* px around an inner edge tested loosely */
#define MAX_BOXES 65536      /* row runs kept before collapsing */
#define FIT_TOL 0.4          /* median offset (px) of a border's edges that makes a kept fit stale */
#define REFIT_ATTEMPTS 16    /* candidate cells decoded to fit a stale lattice again */

struct edge {
    double pos;
    uint32_t chain; /* edges of one chain follow each other without a break */
};

struct group {
    uint32_t first, count; /* into the edge array */
    double origin, step;   /* least-squares line pos = origin + k * step */
};

struct row_memo {
    uint64_t hash;
    int32_t x1, x2;
};

struct mark {
    bool watched, found;
    struct vr_rect rect;
    double x0, y0, sw, sh; /* lattice: sub-block edges at x0 + k * sw */
    double gain, bias;     /* luma seen = gain * nominal + bias */
    pixman_region32_t visible;
    /* Per row of rect: a hash of the pixels last matched there and their
     * columns (x1 == x2: none). A row whose pixels did not change keeps its
     * part of the region: a player redraws the whole placeholder every
     * frame, with at most a few rows changed (time code, subtitles). */
    struct row_memo *rows;
    uint32_t n_rows;
    uint8_t level[VR_MARKER_LATTICE_H][VR_MARKER_LATTICE_W];
};

struct vr_marker_detector {
    struct mark marks[N_CODES];
    struct vr_marker_stats stats;
    /* scratch for one line */
    uint8_t luma[MAX_LINE];
    int8_t cls[MAX_LINE];
    uint8_t ok[MAX_LINE];
    struct edge edges[MAX_EDGES];
    pixman_box32_t *boxes;
    pixman_box32_t cut_boxes[MAX_LINE];
};

static const int levels[4] = {VR_MARKER_LEVEL0, VR_MARKER_LEVEL1, VR_MARKER_LEVEL2,
                              VR_MARKER_LEVEL3};

struct surface {
    const uint8_t *data;
    int32_t width, height;
    size_t stride;
};

static inline void grey_at(const uint8_t *p, int *luma, int *spread)
{
    int b = p[0], g = p[1], r = p[2];
    int mx = r > g ? r : g, mn = r < g ? r : g;
    mx = b > mx ? b : mx;
    mn = b < mn ? b : mn;
    *luma = (r * 77 + g * 150 + b * 29 + 128) >> 8;
    *spread = mx - mn;
}

static inline void pixel(const struct surface *s, int32_t x, int32_t y, int *luma, int *spread)
{
    grey_at(s->data + (size_t)y * s->stride + (size_t)x * 4u, luma, spread); /* B G R x */
}

/* Level of each luma value, -1 for none (filled by the first create). */
static int8_t level_of[256];

static void level_table(void)
{
    for (int l = 0; l < 256; l++) {
        int q = (l - (int)VR_MARKER_LEVEL0 + 30) / 60;
        q = q < 0 ? 0 : q > 3 ? 3 : q;
        level_of[l] = (int8_t)(abs(l - levels[q]) <= LEVEL_TOL ? q : -1);
    }
}

static inline int classify(int luma, int spread)
{
    return spread > GREY_TOL ? -1 : level_of[luma];
}

/* Reads n pixels from (x, y) stepping (dx, dy) into d->luma / d->cls. */
static void read_line(struct vr_marker_detector *d, const struct surface *s, int32_t x, int32_t y,
                      int dx, int dy, uint32_t n)
{
    d->stats.pixels_scanned += n;
    for (uint32_t i = 0; i < n; i++, x += dx, y += dy) {
        int l, sp;
        pixel(s, x, y, &l, &sp);
        d->luma[i] = (uint8_t)l;
        d->cls[i] = (int8_t)classify(l, sp);
    }
}

/* Edges between flat runs of the line read last, at sub-pixel positions
 * (pixel i covers [i, i + 1)), plus offset. Returns their count. */
static uint32_t find_edges(struct vr_marker_detector *d, uint32_t n, double offset)
{
    uint32_t ne = 0, chain = 0;
    int32_t prev_end = -1000, prev_q = -1;
    double prev_mean = 0;
    uint32_t i = 0;
    while (i < n) {
        if (d->cls[i] < 0) {
            i++;
            continue;
        }
        uint32_t start = i;
        int q = d->cls[i];
        uint32_t sum = 0;
        while (i < n && d->cls[i] == q)
            sum += d->luma[i++];
        uint32_t len = i - start;
        if (len < MIN_RUN)
            continue;
        double mean = (double)sum / len;
        if (q == prev_q && (int32_t)start - prev_end <= MAX_GAP) {
            prev_end = (int32_t)i; /* the same block, split by noise */
            continue;
        }
        if (prev_q >= 0 && (int32_t)start - prev_end <= MAX_GAP && (q & 1) != (prev_q & 1)) {
            double t = (prev_mean + mean) / 2;
            for (int32_t x = prev_end - 1; x < (int32_t)start; x++) {
                double a = d->luma[x], b = d->luma[x + 1];
                if ((a - t) * (b - t) <= 0 && a != b) {
                    if (ne < MAX_EDGES)
                        d->edges[ne++] = (struct edge){offset + x + 0.5 + (t - a) / (b - a), chain};
                    break;
                }
            }
        } else {
            chain++;
        }
        prev_end = (int32_t)i;
        prev_q = q;
        prev_mean = mean;
    }
    return ne;
}

static void fit_line(const double *k, const double *pos, uint32_t n, double *origin, double *step)
{
    double sk = 0, sp = 0, skk = 0, skp = 0;
    for (uint32_t i = 0; i < n; i++) {
        sk += k[i];
        sp += pos[i];
        skk += k[i] * k[i];
        skp += k[i] * pos[i];
    }
    double den = n * skk - sk * sk;
    *step = den > 0 ? (n * skp - sk * sp) / den : 0;
    *origin = n ? (sp - *step * sk) / n : 0;
}

/* Next group of evenly spaced edges of one chain at or after *from. */
static bool next_group(const struct vr_marker_detector *d, uint32_t ne, uint32_t *from,
                       struct group *g)
{
    while (*from + 1 < ne) {
        uint32_t a = *from, b = a + 1;
        if (d->edges[b].chain != d->edges[a].chain) {
            (*from)++;
            continue;
        }
        double ref = d->edges[b].pos - d->edges[a].pos;
        double tol = ref * 0.15 > 1.5 ? ref * 0.15 : 1.5;
        while (b + 1 < ne && d->edges[b + 1].chain == d->edges[a].chain &&
               fabs(d->edges[b + 1].pos - d->edges[b].pos - ref) <= tol)
            b++;
        *from = b;
        uint32_t count = b - a + 1;
        if (count < MIN_GROUP_EDGES || ref < 3)
            continue;
        double kk[64], pp[64];
        uint32_t m = count > 64 ? 64 : count;
        for (uint32_t i = 0; i < m; i++) {
            kk[i] = i;
            pp[i] = d->edges[a + i].pos;
        }
        g->first = a;
        g->count = m;
        fit_line(kk, pp, m, &g->origin, &g->step);
        if (g->step < 3)
            continue;
        return true;
    }
    return false;
}

/* Mean luma / spread over a small box around (x, y); false if off the surface. */
static bool sample(const struct surface *s, double fx, double fy, int r, int *luma, int *spread)
{
    int32_t x = (int32_t)floor(fx), y = (int32_t)floor(fy);
    if (x - r < 0 || y - r < 0 || x + r >= s->width || y + r >= s->height)
        return false;
    int sl = 0, ss = 0, n = 0;
    for (int32_t j = y - r; j <= y + r; j++)
        for (int32_t i = x - r; i <= x + r; i++) {
            int l, sp;
            pixel(s, i, j, &l, &sp);
            sl += l;
            ss = sp > ss ? sp : ss;
            n++;
        }
    *luma = sl / n;
    *spread = ss;
    return true;
}

struct hit {
    uint32_t code;
    double x0, y0, sw, sh;
    double gain, bias; /* luma seen = gain * nominal level + bias */
    double cx, cy;     /* the seed: where the lattice was read first */
};

/* Reads the cell around sub-block (mx, my) of the lattices gx, gy at each phase. */
static bool decode_cell(struct vr_marker_detector *d, const struct surface *s,
                        const struct group *gx, uint32_t mx, const struct group *gy, uint32_t my,
                        struct hit *out)
{
    double m = gx->step < gy->step ? gx->step : gy->step;
    int r = (int)(m / 4);
    r = r > 2 ? 2 : r;
    for (uint32_t ph = 0; ph < 16; ph++) {
        int32_t i0 = (int32_t)mx - (int32_t)(ph & 3), j0 = (int32_t)my - (int32_t)(ph >> 2);
        uint32_t bits = 0;
        bool ok = true;
        double nom[16], seen[16];
        for (uint32_t b = 0; b < 4 && ok; b++)
            for (uint32_t a = 0; a < 4 && ok; a++) {
                int l, sp;
                double cx = gx->origin + (i0 + (int32_t)a + 0.5) * gx->step;
                double cy = gy->origin + (j0 + (int32_t)b + 0.5) * gy->step;
                if (!sample(s, cx, cy, r, &l, &sp)) {
                    ok = false;
                    break;
                }
                int q = classify(l, sp);
                if (q < 0 || (uint32_t)(q & 1) != ((a + b) & 1u))
                    ok = false;
                else
                    bits |= (uint32_t)(q >> 1) << (b * 4 + a);
                nom[b * 4 + a] = levels[q < 0 ? 0 : q];
                seen[b * 4 + a] = l;
            }
        uint32_t code, col, row;
        if (!ok || vr_marker_cell_decode(bits, &code, &col, &row) < 0 || !d->marks[code].watched)
            continue;
        /* local edge k is lattice edge col * 4 + k - i0 */
        out->code = code;
        fit_line(nom, seen, 16, &out->bias, &out->gain);
        if (!(out->gain > 0.7 && out->gain < 1.4))
            continue;
        out->sw = gx->step;
        out->sh = gy->step;
        out->x0 = gx->origin - ((double)col * VR_MARKER_CELL_SUB - i0) * gx->step;
        out->y0 = gy->origin - ((double)row * VR_MARKER_CELL_SUB - j0) * gy->step;
        return true;
    }
    return false;
}

/* Refines origin and step along one axis from edges measured on up to
 * n_lines lines across the lattice. horizontal: rows, edges along x. The
 * fit grows outwards from the seed (6, 12, then all sub-blocks either side):
 * a step a little off near the seed would otherwise give far edges to the
 * wrong lattice index. */
static bool refine_axis(struct vr_marker_detector *d, const struct surface *s, struct hit *h,
                        bool horizontal)
{
    double o = horizontal ? h->x0 : h->y0, st = horizontal ? h->sw : h->sh;
    double oo = horizontal ? h->y0 : h->x0, ost = horizontal ? h->sh : h->sw;
    double center = horizontal ? h->cx : h->cy;
    uint32_t n_sub = horizontal ? VR_MARKER_LATTICE_W : VR_MARKER_LATTICE_H;
    uint32_t n_lines = horizontal ? VR_MARKER_LATTICE_H : VR_MARKER_LATTICE_W;
    int32_t len_max = horizontal ? s->width : s->height, cross_max = horizontal ? s->height : s->width;
    enum { MAX_PTS = 2048 };
    double all[MAX_PTS], kk[MAX_PTS], pp[MAX_PTS];
    uint32_t n_all = 0;
    double lo = floor(o - 2 * st), hi = ceil(o + (n_sub + 2) * st);
    int32_t a = lo < 0 ? 0 : lo > len_max ? len_max : (int32_t)lo;
    int32_t b = hi > len_max ? len_max : hi < 0 ? 0 : (int32_t)hi;
    if (b - a < 2)
        return false;
    for (uint32_t line = 0; line < n_lines; line++) {
        double c = oo + (line + 0.5) * ost;
        if (c < 0 || c >= cross_max)
            continue;
        int32_t ci = (int32_t)c;
        uint32_t n = (uint32_t)(b - a);
        if (n > MAX_LINE)
            n = MAX_LINE;
        if (horizontal)
            read_line(d, s, a, ci, 1, 0, n);
        else
            read_line(d, s, ci, a, 0, 1, n);
        uint32_t ne = find_edges(d, n, a);
        for (uint32_t e = 0; e < ne && n_all < MAX_PTS; e++)
            all[n_all++] = d->edges[e].pos;
    }
    static const double windows[] = {6, 12, 64};
    bool fitted = false;
    for (size_t wi = 0; wi < sizeof(windows) / sizeof(windows[0]); wi++) {
        double reach = windows[wi] * st, tol = st * 0.2 > 1.0 ? st * 0.2 : 1.0;
        uint32_t np = 0;
        for (uint32_t e = 0; e < n_all; e++) {
            if (fabs(all[e] - center) > reach)
                continue;
            double k = round((all[e] - o) / st);
            if (k < 1 || k > n_sub - 1 || fabs(all[e] - (o + k * st)) > tol)
                continue;
            kk[np] = k;
            pp[np++] = all[e];
        }
        double kmin = 1e9, kmax = -1e9;
        for (uint32_t i = 0; i < np; i++) {
            kmin = kk[i] < kmin ? kk[i] : kmin;
            kmax = kk[i] > kmax ? kk[i] : kmax;
        }
        if (np < 3 || kmax - kmin < 2)
            continue; /* too little seen yet: the next window */
        double no, nst;
        fit_line(kk, pp, np, &no, &nst);
        if (!(nst > 1) || fabs(nst - st) > st * 0.2)
            return false;
        o = no;
        st = nst;
        fitted = true;
    }
    if (!fitted)
        return false;
    if (horizontal) {
        h->x0 = o;
        h->sw = st;
    } else {
        h->y0 = o;
        h->sh = st;
    }
    return true;
}

static bool hit_rect(const struct hit *h, struct vr_rect *r)
{
    double x1 = h->x0 + VR_MARKER_LATTICE_W * h->sw, y1 = h->y0 + VR_MARKER_LATTICE_H * h->sh;
    if (!(fabs(h->x0) < VR_MAX_COORD && fabs(h->y0) < VR_MAX_COORD && x1 < VR_MAX_COORD &&
          y1 < VR_MAX_COORD))
        return false;
    long x = lround(h->x0), y = lround(h->y0), w = lround(x1) - x, hh = lround(y1) - y;
    if (w < VR_MARKER_LATTICE_W || hh < VR_MARKER_LATTICE_H || w > (long)VR_MAX_DIMENSION ||
        hh > (long)VR_MAX_DIMENSION)
        return false;
    *r = (struct vr_rect){(int32_t)x, (int32_t)y, (uint32_t)w, (uint32_t)hh};
    return true;
}

static bool in_rect(const struct vr_rect *r, double x, double y)
{
    return x >= r->x && y >= r->y && x < r->x + (double)r->w && y < r->y + (double)r->h;
}

/* Tries the candidate row group g at row y; fills h on success. */
static bool try_seed(struct vr_marker_detector *d, const struct surface *s, const struct group *g,
                     int32_t y, struct hit *h)
{
    uint32_t mx = g->count / 2 - 1; /* a sub-block in the middle of the run */
    double cx = g->origin + (mx + 0.5) * g->step;
    int32_t col = (int32_t)cx;
    if (col < 0 || col >= s->width)
        return false;
    /* the column through it, far enough for a whole cell either way */
    double reach = 40 * g->step;
    int32_t y0 = y - (int32_t)reach, y1 = y + (int32_t)reach;
    y0 = y0 < 0 ? 0 : y0;
    y1 = y1 > s->height ? s->height : y1;
    if (y1 - y0 > MAX_LINE) {
        y0 = y - MAX_LINE / 2 < 0 ? 0 : y - MAX_LINE / 2;
        y1 = y0 + MAX_LINE > s->height ? s->height : y0 + MAX_LINE;
    }
    struct group save = *g; /* the edge array is reused by the column */
    read_line(d, s, col, y0, 0, 1, (uint32_t)(y1 - y0));
    uint32_t ne = find_edges(d, (uint32_t)(y1 - y0), y0), from = 0;
    struct group gv;
    while (next_group(d, ne, &from, &gv)) {
        double first = gv.origin, last = gv.origin + (gv.count - 1) * gv.step;
        if (y + 0.5 < first || y + 0.5 >= last)
            continue;
        uint32_t my = (uint32_t)floor((y + 0.5 - gv.origin) / gv.step);
        if (!decode_cell(d, s, &save, mx, &gv, my, h))
            return false;
        h->cx = cx;
        h->cy = y + 0.5;
        for (int pass = 0; pass < 2; pass++)
            if (!refine_axis(d, s, h, true) || !refine_axis(d, s, h, false))
                return false;
        return true;
    }
    return false;
}

/* 1 if the B G R x pixel p is grey with a luma in [lo, hi]. */
static inline int match_px(const uint8_t *p, int lo, int hi)
{
    int b = p[0], g = p[1], r = p[2];
    int mx = r > g ? r : g, mn = r < g ? r : g;
    mx = b > mx ? b : mx;
    mn = b < mn ? b : mn;
    int l = (r * 77 + g * 150 + b * 29 + 128) >> 8;
    return (mx - mn <= GREY_TOL) & (l >= lo) & (l <= hi);
}

/* FNV-1a over 64-bit words of n pixels at p, continuing h: about as fast as
 * reading them. */
static uint64_t hash_px(uint64_t h, const uint8_t *p, uint32_t n)
{
    size_t bytes = (size_t)n * 4u, i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < bytes; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Makes m's row memo fit its rectangle, all rows unknown. */
static int memo_reset(struct mark *m)
{
    if (m->n_rows != m->rect.h) {
        struct row_memo *r = realloc(m->rows, (size_t)m->rect.h * sizeof(*r));
        if (!r)
            return -ENOMEM;
        m->rows = r;
        m->n_rows = m->rect.h;
    }
    memset(m->rows, 0, (size_t)m->n_rows * sizeof(*m->rows));
    return 0;
}

/* Rows of area ∩ rect where the pixels match the lattice of m, as boxes. */
static int match_area(struct vr_marker_detector *d, const struct surface *s, struct mark *m,
                      const pixman_box32_t *area, pixman_region32_t *out, pixman_region32_t *cut)
{
    pixman_region32_clear(out);
    pixman_region32_clear(cut);
    int32_t x1 = area->x1 > m->rect.x ? area->x1 : m->rect.x;
    int32_t y1 = area->y1 > m->rect.y ? area->y1 : m->rect.y;
    int32_t x2 = area->x2 < m->rect.x + (int32_t)m->rect.w ? area->x2 : m->rect.x + (int32_t)m->rect.w;
    int32_t y2 = area->y2 < m->rect.y + (int32_t)m->rect.h ? area->y2 : m->rect.y + (int32_t)m->rect.h;
    if (x1 >= x2 || y1 >= y2)
        return 0;
    uint32_t w = (uint32_t)(x2 - x1);
    /* per column: sub-block, and the neighbour across a close inner edge */
    uint8_t *gx = malloc(w), *gx2 = malloc(w);
    int16_t *bounds = malloc((size_t)w * 4 * sizeof(int16_t));
    if (!gx || !gx2 || !bounds) {
        free(gx);
        free(gx2);
        free(bounds);
        return -ENOMEM;
    }
    int16_t *lo_in = bounds, *hi_in = bounds + w, *lo_all = bounds + 2 * w, *hi_all = bounds + 3 * w;
    int32_t key_gy = -1, key_gy2 = -1;
    for (uint32_t i = 0; i < w; i++) {
        double f = (x1 + (int32_t)i + 0.5 - m->x0) / m->sw;
        int32_t g = (int32_t)floor(f);
        g = g < 0 ? 0 : g >= (int32_t)VR_MARKER_LATTICE_W ? (int32_t)VR_MARKER_LATTICE_W - 1 : g;
        gx[i] = gx2[i] = (uint8_t)g;
        double into = (f - g) * m->sw, left = m->sw - into;
        if (into < EDGE_MARGIN && g > 0)
            gx2[i] = (uint8_t)(g - 1);
        else if (left < EDGE_MARGIN && g + 1 < (int32_t)VR_MARKER_LATTICE_W)
            gx2[i] = (uint8_t)(g + 1);
    }
    uint32_t nb = 0, nc = 0;
    bool collapse = false;
    pixman_box32_t bbox = {INT32_MAX, INT32_MAX, INT32_MIN, INT32_MIN};
    pixman_box32_t *cut_boxes = d->cut_boxes; /* at most one per row */
    for (int32_t y = y1; y < y2; y++) {
        double f = (y + 0.5 - m->y0) / m->sh;
        int32_t gy = (int32_t)floor(f), gy2;
        gy = gy < 0 ? 0 : gy >= (int32_t)VR_MARKER_LATTICE_H ? (int32_t)VR_MARKER_LATTICE_H - 1 : gy;
        gy2 = gy;
        double into = (f - gy) * m->sh, left = m->sh - into;
        if (into < EDGE_MARGIN && gy > 0)
            gy2 = gy - 1;
        else if (left < EDGE_MARGIN && gy + 1 < (int32_t)VR_MARKER_LATTICE_H)
            gy2 = gy + 1;
        /* A row along an inner edge is a blend of the sub-blocks above and
         * below: each pixel there is also checked against the pixel two rows
         * into its own sub-block, so that a cover whose grey falls between
         * two levels is not taken along the edge. */
        int32_t y_in = y;
        if (gy2 != gy) {
            y_in = gy2 < gy ? y + 2 : y - 2;
            int32_t ry1 = m->rect.y, ry2 = m->rect.y + (int32_t)m->rect.h;
            y_in = y_in < ry1 ? ry1 : y_in >= ry2 ? ry2 - 1 : y_in;
            y_in = y_in < 0 ? 0 : y_in >= s->height ? s->height - 1 : y_in;
        }
        const uint8_t *row = s->data + (size_t)y * s->stride;
        const uint8_t *row_in = s->data + (size_t)y_in * s->stride;
        /* the row (and the one it is checked against) as last time: its
         * part of the region stands */
        struct row_memo *memo = &m->rows[y - m->rect.y];
        uint64_t h = hash_px(0xcbf29ce484222325ull, row + (size_t)x1 * 4u, w);
        if (y_in != y)
            h = hash_px(h, row_in + (size_t)x1 * 4u, w);
        if (memo->x1 == x1 && memo->x2 == x2 && memo->hash == h) {
            d->stats.rows_unchanged++;
            continue;
        }
        *memo = (struct row_memo){h, x1, x2};
        if (nc && cut_boxes[nc - 1].y2 == y && cut_boxes[nc - 1].x1 == x1)
            cut_boxes[nc - 1].y2 = y + 1;
        else
            cut_boxes[nc++] = (pixman_box32_t){x1, y, x2, y + 1};
        d->stats.pixels_scanned += w;
        if (gy != key_gy || gy2 != key_gy2) {
            /* expected bounds per column: the same for every row of a band */
            key_gy = gy;
            key_gy2 = gy2;
            for (uint32_t i = 0; i < w; i++) {
                int e0 = m->level[gy][gx[i]], e1 = m->level[gy][gx2[i]];
                int e2 = m->level[gy2][gx[i]], e3 = m->level[gy2][gx2[i]];
                int lo = e0 < e1 ? e0 : e1, hi = e0 > e1 ? e0 : e1;
                lo_in[i] = (int16_t)(lo - MATCH_TOL);
                hi_in[i] = (int16_t)(hi + MATCH_TOL);
                lo = e2 < lo ? e2 : lo, hi = e2 > hi ? e2 : hi;
                lo = e3 < lo ? e3 : lo, hi = e3 > hi ? e3 : hi;
                lo_all[i] = (int16_t)(lo - MATCH_TOL);
                hi_all[i] = (int16_t)(hi + MATCH_TOL);
            }
        }
        /* branch-free, so that the compiler can vectorise it */
        const uint8_t *p = row + (size_t)x1 * 4u;
        if (gy2 == gy) {
            for (uint32_t i = 0; i < w; i++)
                d->ok[i] = (uint8_t)match_px(p + 4u * i, lo_in[i], hi_in[i]);
        } else {
            const uint8_t *q = row_in + (size_t)x1 * 4u;
            for (uint32_t i = 0; i < w; i++)
                d->ok[i] = (uint8_t)(match_px(q + 4u * i, lo_in[i], hi_in[i]) &
                                     match_px(p + 4u * i, lo_all[i], hi_all[i]));
        }
        /* close gaps of noise (<= 2 px), drop slivers (< 4 px) */
        for (uint32_t i = 1; i + 1 < w; i++)
            if (!d->ok[i] && d->ok[i - 1]) {
                uint32_t j = i;
                while (j < w && !d->ok[j] && j - i < 3)
                    j++;
                if (j < w && d->ok[j] && j - i <= 2)
                    memset(d->ok + i, 1, j - i);
            }
        uint32_t i = 0;
        while (i < w) {
            if (!d->ok[i]) {
                i++;
                continue;
            }
            uint32_t st = i;
            while (i < w && d->ok[i])
                i++;
            if (i - st < 4)
                continue;
            /* Anchored: the run crosses an inner edge, matching the lattice
             * on both sides. A flat cover of the very grey of one sub-block
             * matches inside it, but never across an edge. */
            int first = -1;
            bool anchored = false;
            for (uint32_t j = st; j < i && !anchored; j++) {
                if (gx2[j] != gx[j])
                    continue;
                if (first < 0)
                    first = gx[j];
                else if (gx[j] != first)
                    anchored = true;
            }
            if (!anchored)
                continue;
            pixman_box32_t bx = {x1 + (int32_t)st, y, x1 + (int32_t)i, y + 1};
            bbox.x1 = bx.x1 < bbox.x1 ? bx.x1 : bbox.x1;
            bbox.y1 = bx.y1 < bbox.y1 ? bx.y1 : bbox.y1;
            bbox.x2 = bx.x2 > bbox.x2 ? bx.x2 : bbox.x2;
            bbox.y2 = bx.y2 > bbox.y2 ? bx.y2 : bbox.y2;
            if (nb < MAX_BOXES)
                d->boxes[nb++] = bx;
            else
                collapse = true;
        }
    }
    free(gx);
    free(gx2);
    free(bounds);
    if (nc && !pixman_region32_init_rects(cut, cut_boxes, (int)nc))
        return -ENOMEM;
    if (collapse)
        pixman_region32_reset(out, &bbox);
    else if (nb && !pixman_region32_init_rects(out, d->boxes, (int)nb))
        return -ENOMEM;
    return 0;
}

/* Whether the candidate g at row y continues the lattice already known for
 * m: same sub-block size and phase, and its sub-blocks have the expected
 * greys (a video moved by whole sub-blocks would not). Then nothing needs to
 * be decoded or fitted again. */
static bool continues_mark(const struct surface *s, const struct mark *m, const struct group *g,
                           int32_t y)
{
    if (!m->watched || !m->found || y < m->rect.y || y >= m->rect.y + (int32_t)m->rect.h)
        return false;
    double tol = m->sw * 0.03 > 0.5 ? m->sw * 0.03 : 0.5;
    if (fabs(g->step - m->sw) > tol)
        return false;
    double k = (g->origin - m->x0) / m->sw;
    if (fabs(k - round(k)) * m->sw > 1.0)
        return false;
    int32_t gy = (int32_t)floor((y + 0.5 - m->y0) / m->sh);
    if (gy < 0 || gy >= (int32_t)VR_MARKER_LATTICE_H)
        return false;
    for (uint32_t i = 0; i + 1 < g->count; i++) {
        int32_t gx = (int32_t)lround(k) + (int32_t)i;
        if (gx < 0 || gx >= (int32_t)VR_MARKER_LATTICE_W)
            return false;
        int l, sp;
        if (!sample(s, g->origin + (i + 0.5) * g->step, y + 0.5, 0, &l, &sp) || sp > GREY_TOL ||
            abs(l - m->level[gy][gx]) > MATCH_TOL)
            return false;
    }
    return true;
}

/* What one scan found so far, per code. */
struct pass {
    bool found[N_CODES];
    bool known[N_CODES]; /* found by continuing the known lattice, not fitted again */
    struct hit hits[N_CODES];
    struct vr_rect rect[N_CODES];
    uint32_t attempts;
};

/* Looks for candidates on row y between x1 and x2 and decodes them. fresh:
 * no candidate is taken as the known lattice continued (a refit). */
static void scan_segment(struct vr_marker_detector *d, const struct surface *s, int32_t x1,
                         int32_t x2, int32_t y, struct pass *p, bool fresh)
{
    uint32_t n = (uint32_t)(x2 - x1);
    if (n < 8)
        return;
    read_line(d, s, x1, y, 1, 0, n);
    uint32_t ne = find_edges(d, n, x1), from = 0;
    /* groups are copied out: try_seed reuses the edge array */
    struct group groups[64];
    uint32_t ng = 0;
    struct group g;
    while (ng < 64 && next_group(d, ne, &from, &g))
        groups[ng++] = g;
    for (uint32_t k = 0; k < ng && p->attempts < MAX_ATTEMPTS; k++) {
        double cx = groups[k].origin + (groups[k].count / 2 - 0.5) * groups[k].step;
        bool inside = false;
        for (uint32_t c = 0; c < N_CODES && !inside; c++)
            inside = p->found[c] && in_rect(&p->rect[c], cx, y);
        if (inside)
            continue;
        bool known = false;
        for (uint32_t c = VR_MARKER_CODE_MIN; c < N_CODES && !known && !fresh; c++) {
            const struct mark *m = &d->marks[c];
            if (!continues_mark(s, m, &groups[k], y))
                continue;
            known = true;
            p->found[c] = true;
            p->known[c] = true;
            p->rect[c] = m->rect;
            p->hits[c] = (struct hit){c, m->x0, m->y0, m->sw, m->sh, m->gain, m->bias, 0, 0};
            d->stats.known++;
        }
        if (known)
            continue;
        p->attempts++;
        d->stats.candidates++;
        struct hit h;
        struct vr_rect r;
        if (!try_seed(d, s, &groups[k], y, &h) || !hit_rect(&h, &r))
            continue;
        p->found[h.code] = true;
        p->known[h.code] = false;
        p->hits[h.code] = h;
        p->rect[h.code] = r;
        d->stats.found++;
    }
}

/* Where one edge of m's lattice is, measured on the display: the edge k
 * (1..n-1) along one axis between sub-blocks k-1 and k, on the line through
 * the middle of sub-block `line` across. horizontal: along a row. Returns
 * 1 and *dev (measured - predicted, px) when both sides show the expected
 * levels, -1 when they show other levels of the pattern (another lattice
 * there), 0 when they show something else (covered, off the display). */
static int check_edge(struct vr_marker_detector *d, const struct surface *s, const struct mark *m,
                      uint32_t code, bool horizontal, uint32_t k, uint32_t line, double *dev)
{
    double o = horizontal ? m->x0 : m->y0, st = horizontal ? m->sw : m->sh;
    double c = horizontal ? m->y0 + (line + 0.5) * m->sh : m->x0 + (line + 0.5) * m->sw;
    double pred = o + k * st;
    /* from the middle of one sub-block to the middle of the next, less a
     * pixel of blend each side; a few pixels are enough when they are big */
    int32_t half = (int32_t)(st / 2) - 1;
    half = half > 12 ? 12 : half;
    if (half < 2)
        return 0;
    int32_t ci = (int32_t)floor(c);
    int32_t first = (int32_t)floor(pred) - half, last = (int32_t)floor(pred) + half;
    int32_t len = horizontal ? s->width : s->height, cross = horizontal ? s->height : s->width;
    if (ci < 0 || ci >= cross || first < 0 || last >= len)
        return 0;
    uint32_t n = (uint32_t)(last - first + 1);
    if (horizontal)
        read_line(d, s, first, ci, 1, 0, n);
    else
        read_line(d, s, ci, first, 0, 1, n);
    uint32_t gx_a = horizontal ? k - 1 : line, gy_a = horizontal ? line : k - 1;
    uint32_t gx_b = horizontal ? k : line, gy_b = horizontal ? line : k;
    int qa = vr_marker_level_index(code, gx_a, gy_a), qb = vr_marker_level_index(code, gx_b, gy_b);
    int seen_a[2] = {d->cls[0], d->cls[1]}, seen_b[2] = {d->cls[n - 2], d->cls[n - 1]};
    bool lattice = true, expected = true;
    for (int i = 0; i < 2; i++) {
        lattice = lattice && seen_a[i] >= 0 && seen_b[i] >= 0;
        expected = expected && seen_a[i] == qa && seen_b[i] == qb;
    }
    if (!expected)
        return lattice ? -1 : 0;
    double t = (m->level[gy_a][gx_a] + m->level[gy_b][gx_b]) / 2.0;
    for (uint32_t i = 0; i + 1 < n; i++) {
        double a = d->luma[i], b = d->luma[i + 1];
        if ((a - t) * (b - t) <= 0 && a != b) {
            *dev = first + i + 0.5 + (t - a) / (b - a) - pred;
            return 1;
        }
    }
    return 0;
}

/* Whether the lattice kept for code still matches the display: the two
 * edges nearest each border, on 4 lines across, are where it says. Stale
 * when the median offset of a border's edges is over FIT_TOL px (a median:
 * a cover's own edge next to one of them, or text on it, moves only that
 * one), or when more edges show other levels of the pattern than the
 * expected ones (the video moved by whole sub-blocks). Covered edges tell
 * nothing. */
static bool fit_holds(struct vr_marker_detector *d, const struct surface *s, const struct mark *m,
                      uint32_t code)
{
    static const uint32_t rows[4] = {1, 6, 9, 14}, cols[4] = {2, 12, 19, 29};
    uint32_t ok = 0, wrong = 0;
    d->stats.validated++;
    for (int side = 0; side < 4; side++) {
        bool horizontal = side < 2;
        uint32_t n_sub = horizontal ? VR_MARKER_LATTICE_W : VR_MARKER_LATTICE_H;
        const uint32_t *lines = horizontal ? rows : cols;
        double devs[8];
        uint32_t n = 0;
        for (uint32_t e = 0; e < 2; e++) {
            uint32_t k = side & 1 ? n_sub - 1 - e : 1 + e;
            for (uint32_t l = 0; l < 4; l++) {
                double dev;
                int r = check_edge(d, s, m, code, horizontal, k, lines[l], &dev);
                if (r > 0) {
                    uint32_t i = n++; /* insertion sort: at most 8 */
                    for (; i > 0 && devs[i - 1] > dev; i--)
                        devs[i] = devs[i - 1];
                    devs[i] = dev;
                    ok++;
                } else if (r < 0) {
                    wrong++;
                }
            }
        }
        if (n && fabs(n & 1 ? devs[n / 2] : (devs[n / 2 - 1] + devs[n / 2]) / 2) > FIT_TOL)
            return false;
    }
    return wrong <= ok;
}

/* Fits code's lattice again from the display, reading rows of its kept
 * rectangle from the middle outwards until a cell there decodes. */
static void refit(struct vr_marker_detector *d, const struct surface *s, uint32_t code,
                  struct pass *p)
{
    const struct vr_rect *r = &d->marks[code].rect;
    int32_t x1 = r->x < 0 ? 0 : r->x, x2 = r->x + (int32_t)r->w;
    x2 = x2 > s->width ? s->width : x2;
    int32_t y1 = r->y < 0 ? 0 : r->y, y2 = r->y + (int32_t)r->h;
    y2 = y2 > s->height ? s->height : y2;
    if (x2 - x1 < 8 || y1 >= y2)
        return;
    struct pass fresh = {.attempts = MAX_ATTEMPTS - REFIT_ATTEMPTS};
    int32_t mid = (y1 + y2) / 2;
    for (int32_t off = 0; !fresh.found[code] && fresh.attempts < MAX_ATTEMPTS; off += SEED_STEP) {
        bool any = false;
        for (int sign = 1; sign >= -1 && !fresh.found[code]; sign -= 2) {
            int32_t y = mid + sign * off;
            if (y < y1 || y >= y2 || (off == 0 && sign < 0))
                continue;
            any = true;
            scan_segment(d, s, x1, x2, y, &fresh, true);
        }
        if (!any)
            break;
    }
    if (!fresh.found[code])
        return;
    d->stats.refits++;
    p->found[code] = true;
    p->known[code] = false;
    p->hits[code] = fresh.hits[code];
    p->rect[code] = fresh.rect[code];
}

int vr_marker_detector_create(struct vr_marker_detector **out)
{
    if (!out)
        return -EINVAL;
    struct vr_marker_detector *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->boxes = malloc(MAX_BOXES * sizeof(*d->boxes));
    if (!d->boxes) {
        free(d);
        return -ENOMEM;
    }
    for (uint32_t c = 0; c < N_CODES; c++)
        pixman_region32_init(&d->marks[c].visible);
    level_table(); /* idempotent: the same bytes every time */
    *out = d;
    return 0;
}

void vr_marker_detector_destroy(struct vr_marker_detector *d)
{
    if (!d)
        return;
    for (uint32_t c = 0; c < N_CODES; c++) {
        pixman_region32_fini(&d->marks[c].visible);
        free(d->marks[c].rows);
    }
    free(d->boxes);
    free(d);
}

int vr_marker_detector_watch(struct vr_marker_detector *d, uint32_t code, bool watch)
{
    if (!d || code < VR_MARKER_CODE_MIN || code > VR_MARKER_CODE_MAX)
        return -EINVAL;
    struct mark *m = &d->marks[code];
    m->watched = watch;
    m->found = false;
    free(m->rows);
    m->rows = NULL;
    m->n_rows = 0;
    pixman_region32_clear(&m->visible);
    for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H; gy++)
        for (uint32_t gx = 0; gx < VR_MARKER_LATTICE_W; gx++)
            m->level[gy][gx] = vr_marker_level_value(vr_marker_level_index(code, gx, gy));
    return 0;
}

void vr_marker_detector_reset(struct vr_marker_detector *d)
{
    if (!d)
        return;
    for (uint32_t c = 0; c < N_CODES; c++) {
        d->marks[c].found = false;
        pixman_region32_clear(&d->marks[c].visible);
    }
}

int vr_marker_detector_scan(struct vr_marker_detector *d, const uint8_t *pixels, uint32_t width,
                            uint32_t height, size_t stride, const struct vr_rect *area,
                            uint64_t *changed)
{
    if (changed)
        *changed = 0;
    if (!d || !pixels || !area || width == 0 || height == 0 || width > MAX_LINE ||
        height > MAX_LINE || stride / 4 < width)
        return -EINVAL;
    struct surface s = {pixels, (int32_t)width, (int32_t)height, stride};
    int64_t ax1 = area->x, ay1 = area->y, ax2 = ax1 + area->w, ay2 = ay1 + area->h;
    ax1 = ax1 < 0 ? 0 : ax1;
    ay1 = ay1 < 0 ? 0 : ay1;
    ax2 = ax2 > width ? width : ax2;
    ay2 = ay2 > height ? height : ay2;
    if (ax1 >= ax2 || ay1 >= ay2)
        return 0;
    pixman_box32_t box = {(int32_t)ax1, (int32_t)ay1, (int32_t)ax2, (int32_t)ay2};
    d->stats.scans++;

    struct pass p;
    memset(&p, 0, sizeof(p));
    for (int32_t y = box.y1 + SEED_STEP / 2; y < box.y2 && p.attempts < MAX_ATTEMPTS; y += SEED_STEP) {
        /* the row, less the spans of markers already found in this scan */
        int32_t seg_x1 = box.x1;
        while (seg_x1 < box.x2 && p.attempts < MAX_ATTEMPTS) {
            int32_t seg_x2 = box.x2;
            for (uint32_t c = 0; c < N_CODES; c++) {
                const struct vr_rect *fr = &p.rect[c];
                if (!p.found[c] || y < fr->y || y >= fr->y + (int32_t)fr->h)
                    continue;
                if (seg_x1 >= fr->x && seg_x1 < fr->x + (int32_t)fr->w) {
                    seg_x1 = fr->x + (int32_t)fr->w; /* starts inside: skip it */
                    c = (uint32_t)-1;                /* and look again */
                    continue;
                }
                if (fr->x > seg_x1 && fr->x < seg_x2)
                    seg_x2 = fr->x;
            }
            if (seg_x1 >= box.x2)
                break;
            scan_segment(d, &s, seg_x1, seg_x2, y, &p, false);
            seg_x1 = seg_x2;
        }
    }

    /* A kept fit whose rectangle the area meets may be stale: the page
     * was laid out again, the window resized by a few pixels, and the
     * candidates here looked like the old lattice. Check it against the
     * picture, fit it again if it no longer holds. */
    for (uint32_t c = VR_MARKER_CODE_MIN; c < N_CODES; c++) {
        const struct mark *m = &d->marks[c];
        if (!m->watched || !m->found || (p.found[c] && !p.known[c]))
            continue;
        const struct vr_rect *r = &m->rect;
        if (box.x2 <= r->x || box.y2 <= r->y || box.x1 >= r->x + (int32_t)r->w ||
            box.y1 >= r->y + (int32_t)r->h)
            continue;
        if (!fit_holds(d, &s, m, c))
            refit(d, &s, c, &p);
    }

    pixman_region32_t fresh, old;
    pixman_region32_init(&fresh);
    pixman_region32_init(&old);
    int ret = 0;
    for (uint32_t c = VR_MARKER_CODE_MIN; c < N_CODES; c++) {
        struct mark *m = &d->marks[c];
        if (!m->watched)
            continue;
        bool moved = false;
        pixman_region32_copy(&old, &m->visible);
        if (p.found[c]) {
            const struct vr_rect *r = &p.rect[c];
            const struct hit *h = &p.hits[c];
            moved = !m->found || r->x != m->rect.x || r->y != m->rect.y || r->w != m->rect.w ||
                    r->h != m->rect.h;
            m->found = true;
            m->rect = *r;
            m->x0 = h->x0;
            m->y0 = h->y0;
            m->sw = h->sw;
            m->sh = h->sh;
            m->gain = h->gain;
            m->bias = h->bias;
            for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H; gy++)
                for (uint32_t gx = 0; gx < VR_MARKER_LATTICE_W; gx++) {
                    int idx = vr_marker_level_index(c, gx, gy);
                    double v = h->gain * levels[idx] + h->bias;
                    m->level[gy][gx] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
                }
            if (moved)
                pixman_region32_clear(&m->visible);
        }
        if (!m->found)
            continue;
        if (moved && (ret = memo_reset(m)) < 0) {
            m->found = false; /* the memo must fit the rectangle */
            break;
        }
        /* A new fit is matched over its whole rectangle: what was matched
         * before, against another lattice, does not stand. */
        pixman_box32_t mbox = box;
        if (moved)
            mbox = (pixman_box32_t){m->rect.x, m->rect.y, m->rect.x + (int32_t)m->rect.w,
                                    m->rect.y + (int32_t)m->rect.h};
        mbox.x1 = mbox.x1 < 0 ? 0 : mbox.x1;
        mbox.y1 = mbox.y1 < 0 ? 0 : mbox.y1;
        mbox.x2 = mbox.x2 > s.width ? s.width : mbox.x2;
        mbox.y2 = mbox.y2 > s.height ? s.height : mbox.y2;
        pixman_region32_t cut;
        pixman_region32_init(&cut);
        ret = match_area(d, &s, m, &mbox, &fresh, &cut);
        if (ret < 0) {
            pixman_region32_fini(&cut);
            break;
        }
        /* the rows matched again replace what was there */
        pixman_region32_subtract(&m->visible, &m->visible, &cut);
        pixman_region32_fini(&cut);
        pixman_region32_union(&m->visible, &m->visible, &fresh);
        if (pixman_region32_n_rects(&m->visible) > (int)VR_MAX_RECTS) {
            pixman_box32_t ext = *pixman_region32_extents(&m->visible);
            pixman_region32_reset(&m->visible, &ext);
            d->stats.collapsed++;
        }
        if (moved || !pixman_region32_equal(&old, &m->visible))
            if (changed)
                *changed |= 1ull << c;
    }
    pixman_region32_fini(&fresh);
    pixman_region32_fini(&old);
    return ret;
}

int vr_marker_detector_get(const struct vr_marker_detector *d, uint32_t code, struct vr_rect *rect,
                           pixman_region32_t *visible)
{
    if (!d || code < VR_MARKER_CODE_MIN || code > VR_MARKER_CODE_MAX)
        return -EINVAL;
    const struct mark *m = &d->marks[code];
    if (!m->watched || !m->found)
        return -ENOENT;
    if (rect)
        *rect = m->rect;
    if (visible)
        pixman_region32_copy(visible, (pixman_region32_t *)&m->visible);
    return 0;
}

void vr_marker_detector_stats(const struct vr_marker_detector *d, struct vr_marker_stats *st)
{
    if (d && st)
        *st = d->stats;
}
