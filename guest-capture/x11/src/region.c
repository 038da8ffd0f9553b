/* Region simplification and conversion to the protocol's struct vr_region.
 *
 * pixman keeps a region as y-x bands: rows of rectangles that share y1/y2,
 * sorted by x, never touching. Simplification works on that layout in two
 * steps that only ever add pixels:
 *  1. close the horizontal gaps inside bands, cheapest (gap width x band
 *     height) first, until the count fits;
 *  2. if one rectangle per band is still too many, merge vertically adjacent
 *     bands into their bounding boxes, the pair adding the least area first.
 * Both steps keep rectangles disjoint, so the output needs no re-banding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "videoredir/x11track.h"

static int64_t box_area(const pixman_box32_t *b)
{
    return (int64_t)(b->x2 - b->x1) * (int64_t)(b->y2 - b->y1);
}

/* A horizontal gap inside a band: the one just left of in[idx]. */
struct gap {
    int64_t area; /* pixels it would add: width x band height */
    uint32_t idx;
};

static int cmp_gap(const void *a, const void *b)
{
    const struct gap *x = a, *y = b;
    if (x->area != y->area)
        return (x->area > y->area) - (x->area < y->area);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Step 1 with the @k cheapest gaps closed: the boxes go to @out (room for n),
 * their region (coalesced by pixman, which can only lower the count) to @reg.
 * Returns the region's rectangle count, or -1 on allocation failure. */
static int close_gaps(const pixman_box32_t *in, size_t n, const struct gap *gaps, size_t k,
                      uint8_t *closed, pixman_box32_t *out, pixman_region32_t *reg)
{
    memset(closed, 0, n);
    for (size_t i = 0; i < k; i++)
        closed[gaps[i].idx] = 1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (closed[i] && m > 0)
            out[m - 1].x2 = in[i].x2;
        else
            out[m++] = in[i];
    }
    pixman_region32_fini(reg);
    if (!pixman_region32_init_rects(reg, out, (int)m)) {
        pixman_region32_init(reg);
        return -1;
    }
    return pixman_region32_n_rects(reg);
}

/* A candidate merge of the group at @left with its successor. */
struct merge {
    int64_t cost;
    uint32_t left;
    uint32_t stamp_left, stamp_right;
};

struct heap {
    struct merge *v;
    size_t n;
};

static bool merge_less(const struct merge *a, const struct merge *b)
{
    return a->cost < b->cost || (a->cost == b->cost && a->left < b->left);
}

static void heap_push(struct heap *h, struct merge m)
{
    size_t i = h->n++;
    h->v[i] = m;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&h->v[i], &h->v[p]))
            break;
        struct merge tmp = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = tmp;
        i = p;
    }
}

static struct merge heap_pop(struct heap *h)
{
    struct merge top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < h->n && merge_less(&h->v[l], &h->v[s]))
            s = l;
        if (r < h->n && merge_less(&h->v[r], &h->v[s]))
            s = r;
        if (s == i)
            break;
        struct merge tmp = h->v[s];
        h->v[s] = h->v[i];
        h->v[i] = tmp;
        i = s;
    }
    return top;
}

static pixman_box32_t box_union(const pixman_box32_t *a, const pixman_box32_t *b)
{
    pixman_box32_t u = {
        a->x1 < b->x1 ? a->x1 : b->x1, a->y1 < b->y1 ? a->y1 : b->y1,
        a->x2 > b->x2 ? a->x2 : b->x2, a->y2 > b->y2 ? a->y2 : b->y2,
    };
    return u;
}

/* Step 2 on @n boxes, disjoint and sorted by y, one per band. Greedy pairwise
 * merging with a heap of candidates; stale candidates are recognised by the
 * stamps of both sides. Compacts the survivors into @box and returns their
 * count, or 0 on allocation failure. */
static size_t merge_bands(pixman_box32_t *box, size_t n, size_t cap)
{
    uint32_t *next = malloc(n * sizeof(*next));
    uint32_t *prev = malloc(n * sizeof(*prev));
    uint32_t *stamp = calloc(n, sizeof(*stamp));
    int64_t *area = malloc(n * sizeof(*area)); /* covered pixels of the group */
    /* Each merge pushes at most two candidates: n - 1 + 2 (n - cap). */
    struct heap h = { malloc(3 * n * sizeof(struct merge)), 0 };
    size_t alive = n;
    if (!next || !prev || !stamp || !area || !h.v) {
        alive = 0;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        next[i] = (uint32_t)(i + 1); /* n = none */
        prev[i] = i ? (uint32_t)(i - 1) : UINT32_MAX;
        area[i] = box_area(&box[i]);
    }
    for (size_t i = 0; i + 1 < n; i++) {
        pixman_box32_t u = box_union(&box[i], &box[i + 1]);
        heap_push(&h, (struct merge){ box_area(&u) - area[i] - area[i + 1], (uint32_t)i, 0, 0 });
    }
    while (alive > cap && h.n > 0) {
        struct merge m = heap_pop(&h);
        uint32_t l = m.left, r = next[l];
        if (stamp[l] != m.stamp_left || r >= n || stamp[r] != m.stamp_right)
            continue;
        box[l] = box_union(&box[l], &box[r]);
        area[l] += area[r];
        stamp[l]++;
        stamp[r] = UINT32_MAX; /* dead */
        next[l] = next[r];
        if (next[l] < n)
            prev[next[l]] = l;
        alive--;
        if (prev[l] != UINT32_MAX) {
            uint32_t p = prev[l];
            pixman_box32_t u = box_union(&box[p], &box[l]);
            heap_push(&h, (struct merge){ box_area(&u) - area[p] - area[l], p, stamp[p], stamp[l] });
        }
        if (next[l] < n) {
            uint32_t q = next[l];
            pixman_box32_t u = box_union(&box[l], &box[q]);
            heap_push(&h, (struct merge){ box_area(&u) - area[l] - area[q], l, stamp[l], stamp[q] });
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (stamp[i] != UINT32_MAX)
            box[m++] = box[i];
    alive = m;
out:
    free(next);
    free(prev);
    free(stamp);
    free(area);
    free(h.v);
    return alive;
}

int vr_x11track_simplify(const pixman_region32_t *src, uint32_t cap, pixman_region32_t *dst)
{
    if (!src || !dst || cap == 0)
        return -EINVAL;
    int n_in = 0;
    const pixman_box32_t *in = pixman_region32_rectangles((pixman_region32_t *)src, &n_in);
    size_t n = n_in > 0 ? (size_t)n_in : 0;
    if (n <= cap)
        return pixman_region32_copy(dst, (pixman_region32_t *)src) ? 0 : -ENOMEM;

    pixman_box32_t *box = malloc(n * sizeof(*box));
    struct gap *gaps = malloc(n * sizeof(*gaps));
    uint8_t *closed = malloc(n);
    pixman_region32_t tmp;
    pixman_region32_init(&tmp);
    int ret = -ENOMEM;
    if (!box || !gaps || !closed)
        goto out;

    size_t n_gaps = 0;
    for (size_t i = 1; i < n; i++)
        if (in[i].y1 == in[i - 1].y1 && in[i].y2 == in[i - 1].y2)
            gaps[n_gaps++] = (struct gap){
                (int64_t)(in[i].x1 - in[i - 1].x2) * (in[i].y2 - in[i].y1), (uint32_t)i };
    qsort(gaps, n_gaps, sizeof(*gaps), cmp_gap);

    /* Closing n - cap gaps surely fits; coalescing often lets fewer do, so
     * look for the fewest (the count falls as k grows; the search only ever
     * keeps a k it has checked). */
    size_t hi = n - cap < n_gaps ? n - cap : n_gaps, lo = 0;
    int count = close_gaps(in, n, gaps, hi, closed, box, &tmp);
    if (count < 0)
        goto out;
    if ((uint32_t)count <= cap) {
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = close_gaps(in, n, gaps, mid, closed, box, &tmp);
            if (c < 0)
                goto out;
            if ((uint32_t)c <= cap)
                hi = mid;
            else
                lo = mid + 1;
        }
        count = close_gaps(in, n, gaps, hi, closed, box, &tmp);
    } else {
        /* Step 2 on the bands left once every gap is closed. */
        int nb = 0;
        const pixman_box32_t *bands = pixman_region32_rectangles(&tmp, &nb);
        memcpy(box, bands, (size_t)nb * sizeof(*box));
        size_t m = merge_bands(box, (size_t)nb, cap);
        if (m == 0)
            goto out;
        pixman_region32_fini(&tmp);
        if (!pixman_region32_init_rects(&tmp, box, (int)m)) {
            pixman_region32_init(&tmp);
            goto out;
        }
        count = pixman_region32_n_rects(&tmp);
    }
    if (count < 0)
        goto out;
    /* pixman may coalesce these disjoint boxes, never split them; still, the
     * cap is a promise, so fall back to the bounding box rather than break it. */
    if ((uint32_t)count > cap) {
        pixman_box32_t ext = *pixman_region32_extents((pixman_region32_t *)src);
        pixman_region32_fini(&tmp);
        pixman_region32_init_with_extents(&tmp, &ext);
    }
    ret = pixman_region32_copy(dst, &tmp) ? 0 : -ENOMEM;
out:
    pixman_region32_fini(&tmp);
    free(box);
    free(gaps);
    free(closed);
    return ret;
}

int vr_x11track_region_to_vr(const pixman_region32_t *src, uint32_t cap, struct vr_region *dst)
{
    if (!src || !dst || cap == 0 || cap > VR_MAX_RECTS)
        return -EINVAL;
    pixman_region32_t simple;
    pixman_region32_init(&simple);
    int exact = pixman_region32_n_rects((pixman_region32_t *)src);
    int ret = vr_x11track_simplify(src, cap, &simple);
    if (ret < 0)
        goto out;
    int n = 0;
    const pixman_box32_t *b = pixman_region32_rectangles(&simple, &n);
    if (n < 0 || (uint32_t)n > cap) {
        ret = -ERANGE;
        goto out;
    }
    memset(dst, 0, sizeof(*dst));
    for (int i = 0; i < n; i++) {
        int64_t w = (int64_t)b[i].x2 - b[i].x1, h = (int64_t)b[i].y2 - b[i].y1;
        if (b[i].x1 < -VR_MAX_COORD || b[i].x1 > VR_MAX_COORD || b[i].y1 < -VR_MAX_COORD ||
            b[i].y1 > VR_MAX_COORD || w <= 0 || h <= 0 || w > VR_MAX_DIMENSION ||
            h > VR_MAX_DIMENSION) {
            memset(dst, 0, sizeof(*dst));
            ret = -ERANGE;
            goto out;
        }
        dst->rects[i] = (struct vr_rect){ b[i].x1, b[i].y1, (uint32_t)w, (uint32_t)h };
    }
    dst->n_rects = (uint32_t)n;
    ret = exact;
out:
    pixman_region32_fini(&simple);
    return ret;
}
