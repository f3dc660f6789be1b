/* AVX2 kernels of the image operations (ops.c chooses them at run time; an
 * AVX-512 machine runs them too: the work is byte shuffling, which 16 lanes
 * would not make much faster, and one kernel set is less to keep exact).
 *
 * Every kernel gives exactly the bytes and floats of the portable code in
 * ops.c, which the tests check for every ISA:
 *  - bilinear resize is integer arithmetic (11-bit weights), so the order of
 *    the lanes cannot change a result;
 *  - the warp repeats the scalar float operations one by one with separate
 *    multiply and add intrinsics. Never an FMA: a fused a * b + c rounds
 *    once and would move some pixels by a level. (GCC does not contract
 *    across these intrinsics under -std=c11, which implies
 *    -ffp-contract=off; the object has no vfmadd, and the tests would see it);
 *  - the float packing is (v - mean) * scale, as the scalar code.
 *
 * Why the resize does not gather: on AMD Zen a vpgatherdd costs about as much
 * as 8 scalar loads, and the horizontal pass was no faster than the scalar
 * code. The source bytes of 8 neighbouring output bytes lie in one to three
 * 16-byte windows of the source row, so ops.c precomputes per group of 8 the
 * windows and a pshufb control for each (struct fr__lin_grp), and the
 * kernel is a broadcast load and a shuffle per window. The warp's sample
 * points follow no pattern, so it does gather (4 per 8 RGB pixels).
 *
 * Reads past a row: the resize kernel reads whole 16-byte windows from a
 * zero-padded copy of the row (ops.c); the warp's gathers stay inside the
 * image (see warp8_rgb and warp8_grey). */
#include "image/image_int.h"

#include <immintrin.h>
#include <string.h>

#define LIN_BITS 11

/* ---- bilinear resize ---- */

void fr__img_lin_hrow_avx2(const uint8_t *s, int32_t *restrict d, int n, const int32_t *e0,
                           const int32_t *wt, const struct fr__lin_grp *grp, int cn) {
    /* the gather fallback: dword g = s[e0 .. e0 + 3], p is byte 0, q byte cn;
     * one shuffle makes the 16-bit pair (p, q) that pmaddwd weighs with (b, a) */
    const __m256i pick = cn == 3 ? _mm256_setr_epi8(0, -1, 3, -1, 4, -1, 7, -1, 8, -1, 11, -1, 12,
                                                    -1, 15, -1, 0, -1, 3, -1, 4, -1, 7, -1, 8, -1,
                                                    11, -1, 12, -1, 15, -1)
                                 : _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12,
                                                    -1, 13, -1, 0, -1, 1, -1, 4, -1, 5, -1, 8, -1,
                                                    9, -1, 12, -1, 13, -1);
    int j = 0;
    for (; j + 8 <= n; j += 8, grp++) {
        __m256i pq;
        if (grp->base[0] >= 0) {
            /* (p, q) straight from up to FR__LIN_WIN 16-byte windows of the row */
            pq = _mm256_setzero_si256();
            for (int k = 0; k < FR__LIN_WIN && grp->base[k] >= 0; k++) {
                __m256i w = _mm256_broadcastsi128_si256(
                    _mm_loadu_si128((const __m128i *)(const void *)(s + grp->base[k])));
                __m256i ctl = _mm256_loadu_si256((const __m256i *)(const void *)grp->ctl[k]);
                pq = _mm256_or_si256(pq, _mm256_shuffle_epi8(w, ctl));
            }
        } else {
            __m256i idx = _mm256_loadu_si256((const __m256i *)(const void *)(e0 + j));
            __m256i g = _mm256_i32gather_epi32((const int *)(const void *)s, idx, 1);
            pq = _mm256_shuffle_epi8(g, pick);
        }
        __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(wt + j));
        _mm256_storeu_si256((__m256i *)(void *)(d + j), _mm256_madd_epi16(pq, w));
    }
    for (; j < n; j++) {
        int32_t b = wt[j] & 0xffff, a = wt[j] >> 16;
        d[j] = s[e0[j]] * b + s[e0[j] + cn] * a;
    }
}

/* (r0 * b0 + r1 * b1 + half) >> 22 for 8 elements */
static inline __m256i vblend8(const int32_t *r0, const int32_t *r1, __m256i b0, __m256i b1) {
    const __m256i half = _mm256_set1_epi32(1 << (2 * LIN_BITS - 1));
    __m256i x = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(const void *)r0), b0);
    __m256i y = _mm256_mullo_epi32(_mm256_loadu_si256((const __m256i *)(const void *)r1), b1);
    return _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(x, y), half), 2 * LIN_BITS);
}

void fr__img_lin_vrow_u8_avx2(const int32_t *r0, const int32_t *r1, int32_t b0, int32_t b1,
                              uint8_t *restrict o, int n) {
    const __m256i vb0 = _mm256_set1_epi32(b0), vb1 = _mm256_set1_epi32(b1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        /* results are 0..255, so the saturating packs are exact */
        __m256i a = vblend8(r0 + i, r1 + i, vb0, vb1);
        __m256i b = vblend8(r0 + i + 8, r1 + i + 8, vb0, vb1);
        __m256i c = vblend8(r0 + i + 16, r1 + i + 16, vb0, vb1);
        __m256i e = vblend8(r0 + i + 24, r1 + i + 24, vb0, vb1);
        __m256i v = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, e));
        _mm256_storeu_si256((__m256i *)(void *)(o + i), _mm256_permutevar8x32_epi32(v, order));
    }
    for (; i < n; i++)
        o[i] = (uint8_t)((r0[i] * b0 + r1[i] * b1 + (1 << (2 * LIN_BITS - 1))) >> (2 * LIN_BITS));
}

/* ---- float planes ---- */

void fr__img_chw_row_avx2(const uint8_t *p, size_t n, const int chan[3], const float mean[3],
                          const float scale[3], float *o0, float *o1, float *o2) {
    /* 8 pixels = 24 bytes: a = bytes 0..15, b = 16..23; channel k of pixel
     * i is byte 3 i + k, taken from a or b by two shuffles */
    __m128i sa[3], sb[3];
    for (int c = 0; c < 3; c++) {
        int8_t ca[16], cb[16];
        for (int i = 0; i < 16; i++) ca[i] = cb[i] = -1;
        for (int i = 0; i < 8; i++) {
            int byte = 3 * i + chan[c];
            if (byte < 16) ca[i] = (int8_t)byte;
            else cb[i] = (int8_t)(byte - 16);
        }
        sa[c] = _mm_loadu_si128((const __m128i *)(const void *)ca);
        sb[c] = _mm_loadu_si128((const __m128i *)(const void *)cb);
    }
    float *restrict out[3] = { o0, o1, o2 };
    __m256 vm[3], vs[3];
    for (int c = 0; c < 3; c++) {
        vm[c] = _mm256_set1_ps(mean[c]);
        vs[c] = _mm256_set1_ps(scale[c]);
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + 3 * i));
        __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(p + 3 * i + 16));
        for (int c = 0; c < 3; c++) {
            __m128i v8 = _mm_or_si128(_mm_shuffle_epi8(a, sa[c]), _mm_shuffle_epi8(b, sb[c]));
            __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v8));
            _mm256_storeu_ps(out[c] + i, _mm256_mul_ps(_mm256_sub_ps(v, vm[c]), vs[c]));
        }
    }
    for (; i < n; i++)
        for (int c = 0; c < 3; c++)
            out[c][i] = ((float)p[3 * i + (size_t)chan[c]] - mean[c]) * scale[c];
}

/* ---- affine warp ---- */

/* Byte k of each dword as a float. */
static inline __m256 byte_ps(__m256i g, int k) {
    __m256i b = _mm256_and_si256(_mm256_srli_epi32(g, 8 * k), _mm256_set1_epi32(0xff));
    return _mm256_cvtepi32_ps(b);
}

/* The scalar blend t + fy * (b - t) of t = p + fx * (p' - p) and the same
 * on the next row, rounded half up and clamped as round_u8 does. */
static inline __m256i blend_round(__m256 p0, __m256 p1, __m256 q0, __m256 q1, __m256 fx,
                                  __m256 fy) {
    __m256 t = _mm256_add_ps(p0, _mm256_mul_ps(fx, _mm256_sub_ps(p1, p0)));
    __m256 b = _mm256_add_ps(q0, _mm256_mul_ps(fx, _mm256_sub_ps(q1, q0)));
    __m256 v = _mm256_add_ps(t, _mm256_mul_ps(fy, _mm256_sub_ps(b, t)));
    __m256i i = _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
    return _mm256_min_epi32(_mm256_max_epi32(i, _mm256_setzero_si256()), _mm256_set1_epi32(255));
}

/* 8 RGB pixels at top-left byte offsets off (row y0, column x0, both before
 * the last row / column). The dword at off holds R G B R', the one at
 * off + 2 B R' G' B'; the same on the row below. Writes 24 bytes. */
static inline void warp8_rgb(const int *base, int sstride, __m256i off, __m256 fx, __m256 fy,
                             uint8_t *o) {
    const __m256i two = _mm256_set1_epi32(2);
    __m256i offq = _mm256_add_epi32(off, _mm256_set1_epi32(sstride));
    __m256i pa = _mm256_i32gather_epi32(base, off, 1);
    __m256i pb = _mm256_i32gather_epi32(base, _mm256_add_epi32(off, two), 1);
    __m256i qa = _mm256_i32gather_epi32(base, offq, 1);
    __m256i qb = _mm256_i32gather_epi32(base, _mm256_add_epi32(offq, two), 1);
    __m256i r = blend_round(byte_ps(pa, 0), byte_ps(pa, 3), byte_ps(qa, 0), byte_ps(qa, 3), fx, fy);
    __m256i g = blend_round(byte_ps(pa, 1), byte_ps(pb, 2), byte_ps(qa, 1), byte_ps(qb, 2), fx, fy);
    __m256i b = blend_round(byte_ps(pa, 2), byte_ps(pb, 3), byte_ps(qa, 2), byte_ps(qb, 3), fx, fy);
    /* R | G << 8 | B << 16 per dword, then 12 of each lane's 16 bytes */
    __m256i gb = _mm256_or_si256(_mm256_slli_epi32(g, 8), _mm256_slli_epi32(b, 16));
    const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                          0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    uint8_t tmp[32];
    _mm256_storeu_si256((__m256i *)(void *)tmp, _mm256_shuffle_epi8(_mm256_or_si256(r, gb), pack));
    memcpy(o, tmp, 12);
    memcpy(o + 12, tmp + 16, 12);
}

/* 8 grey pixels: the dword at off holds v v' . . ; on the row below, which
 * may be the image's last, the one at off - 2 holds . . v v' (an interior
 * pixel has a left neighbour, so off - 2 stays in the image). */
static inline void warp8_grey(const int *base, int sstride, __m256i off, __m256 fx, __m256 fy,
                              uint8_t *o) {
    __m256i offq = _mm256_add_epi32(off, _mm256_set1_epi32(sstride - 2));
    __m256i pa = _mm256_i32gather_epi32(base, off, 1);
    __m256i qa = _mm256_i32gather_epi32(base, offq, 1);
    __m256i v = blend_round(byte_ps(pa, 0), byte_ps(pa, 1), byte_ps(qa, 2), byte_ps(qa, 3), fx, fy);
    __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(w, w));
}

/* floor(v) for v > -1, as the scalar code: (int)(v + 1) - 1 */
static inline __m256i floor_gt_m1(__m256 v) {
    __m256i t = _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_set1_ps(1.0f)));
    return _mm256_sub_epi32(t, _mm256_set1_epi32(1));
}

/* All-ones where 0 <= v < last. */
static inline __m256i below(__m256i v, __m256i last) {
    return _mm256_and_si256(_mm256_cmpgt_epi32(v, _mm256_set1_epi32(-1)),
                            _mm256_cmpgt_epi32(last, v));
}

/* All-ones where lo < v < hi (false for NaN, as the scalar test). */
static inline __m256 within(__m256 v, __m256 lo, __m256 hi) {
    return _mm256_and_ps(_mm256_cmp_ps(v, lo, _CMP_GT_OQ), _mm256_cmp_ps(v, hi, _CMP_LT_OQ));
}

void fr__img_warp_row_avx2(const struct fr_image *src, const float m[6], int y, int w,
                           uint8_t *restrict o) {
    const int sw = src->w, sh = src->h, cn = src->channels;
    const int *base = (const int *)(const void *)src->data;
    const size_t sstride = (size_t)sw * (size_t)cn;
    /* the scalar code's per-row terms, computed the same way */
    const float bx = m[1] * (float)y + m[2], by = m[4] * (float)y + m[5];
    const __m256 vm0 = _mm256_set1_ps(m[0]), vm3 = _mm256_set1_ps(m[3]);
    const __m256 vbx = _mm256_set1_ps(bx), vby = _mm256_set1_ps(by);
    const __m256 lo = _mm256_set1_ps(-1.0f);
    const __m256 hix = _mm256_set1_ps((float)sw), hiy = _mm256_set1_ps((float)sh);
    const __m256i lastx = _mm256_set1_epi32(sw - 1), lasty = _mm256_set1_epi32(sh - 1);
    const __m256i vstride = _mm256_set1_epi32((int)sstride), vcn = _mm256_set1_epi32(cn);
    const __m256i step = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    /* the byte offsets of the gathers are int32 */
    const int gather_ok = (double)sstride * (double)sh < 2147483647.0 - 8.0;
    int x = 0;
    for (; x + 8 <= w; x += 8) {
        __m256 xf = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(x), step));
        __m256 sx = _mm256_add_ps(_mm256_mul_ps(vm0, xf), vbx);
        __m256 sy = _mm256_add_ps(_mm256_mul_ps(vm3, xf), vby);
        int in = _mm256_movemask_ps(_mm256_and_ps(within(sx, lo, hix), within(sy, lo, hiy)));
        uint8_t *ox = o + (size_t)x * (size_t)cn;
        if (in == 0) {
            memset(ox, 0, 8 * (size_t)cn);
            continue;
        }
        if (in == 0xff && gather_ok) {
            /* all in range, so the conversions cannot overflow */
            __m256i x0 = floor_gt_m1(sx), y0 = floor_gt_m1(sy);
            __m256i inner = _mm256_and_si256(below(x0, lastx), below(y0, lasty));
            if (_mm256_movemask_ps(_mm256_castsi256_ps(inner)) == 0xff) {
                __m256 fx = _mm256_sub_ps(sx, _mm256_cvtepi32_ps(x0));
                __m256 fy = _mm256_sub_ps(sy, _mm256_cvtepi32_ps(y0));
                __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(y0, vstride),
                                               _mm256_mullo_epi32(x0, vcn));
                if (cn == 3) warp8_rgb(base, (int)sstride, off, fx, fy, ox);
                else warp8_grey(base, (int)sstride, off, fx, fy, ox);
                continue;
            }
        }
        /* a mix of inside, border and outside pixels: the scalar code */
        float vx[8], vy[8];
        _mm256_storeu_ps(vx, sx);
        _mm256_storeu_ps(vy, sy);
        for (int k = 0; k < 8; k++) fr__img_warp_px(src, vx[k], vy[k], ox + (size_t)k * (size_t)cn);
    }
    for (; x < w; x++) {
        float sx = m[0] * (float)x + bx, sy = m[3] * (float)x + by;
        fr__img_warp_px(src, sx, sy, o + (size_t)x * (size_t)cn);
    }
}
