/* Depthwise 3x3 on small planes, 16 channels at a time (AVX-512 only):
 * the 16 planes are transposed into a pixel-major tile with a zero ring
 * (each pixel one vector of 16 channels), each output pixel is then 9 loads
 * and 9 FMAs for all 16 channels, and the result is transposed back. This
 * is what a channel-blocked layout gives; the NCHW row kernels pay per
 * plane and per row, which dominates on planes of a few dozen pixels.
 * Included by kern_avx512.c after dw3x3_impl.h. */

enum { CB_RING = 2, CB_MAX_PIX = 256 };

/* 16x16 transpose in registers: r[i] holds row i; afterwards column i. */
static inline void tr16(__m512 r[16]) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
        __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int j = 0; j < 4; j++) {
        v[j] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        v[j + 4] = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
        v[j + 8] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        v[j + 12] = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(v[j], v[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(v[j], v[j + 8], 0xdd);
        r[j + 4] = _mm512_shuffle_f32x4(v[j + 4], v[j + 12], 0x88);
        r[j + 12] = _mm512_shuffle_f32x4(v[j + 4], v[j + 12], 0xdd);
    }
}

/* Floats of per-thread scratch dw3x3_cb needs. */
static size_t dw3x3_cb_scratch(int ih, int iw, int oh, int ow) {
    return ((size_t)(ih + 2 * CB_RING) * (size_t)(iw + 2 * CB_RING) + (size_t)oh * ow + 16) * 16;
}

/* n_ch (<= 16) planes starting at a->in / a->out / a->w, channel a->c.
 * Pads and stride as in fr_dw_args (pads <= CB_RING, stride 1 or 2). */
static void dw3x3_cb(const struct fr_dw_args *a, int n_ch, const float *biases, float *scratch) {
    const int ih = a->ih, iw = a->iw, oh = a->oh, ow = a->ow, s = a->sh;
    const int tw = iw + 2 * CB_RING, np = ih * iw, nq = oh * ow;
    float *tile = scratch, *res = scratch + (size_t)(ih + 2 * CB_RING) * tw * 16;
    const __mmask16 chm = (__mmask16)((1u << n_ch) - 1);
    /* zero ring: top and bottom rows, left and right columns */
    const __m512 z = _mm512_setzero_ps();
    for (int y = 0; y < ih + 2 * CB_RING; y++) {
        bool edge = y < CB_RING || y >= ih + CB_RING;
        for (int x = 0; x < tw; x++)
            if (edge || x < CB_RING || x >= iw + CB_RING) _mm512_storeu_ps(tile + ((size_t)y * tw + x) * 16, z);
    }
    /* in: 16 planes × np pixels → tile, 16 pixels at a time */
    __m512 r[16];
    for (int p0 = 0; p0 < np; p0 += 16) {
        int m = np - p0 < 16 ? np - p0 : 16;
        __mmask16 pm = (__mmask16)((1u << m) - 1);
        for (int c = 0; c < 16; c++)
            r[c] = c < n_ch ? _mm512_maskz_loadu_ps(pm, a->in + (size_t)c * np + p0) : z;
        tr16(r);
        for (int k = 0; k < m; k++) {
            int p = p0 + k, y = p / iw, x = p % iw;
            _mm512_storeu_ps(tile + ((size_t)(y + CB_RING) * tw + x + CB_RING) * 16, r[k]);
        }
    }
    /* weights and bias per channel lane */
    float wl[9][16], bl[16], sl[16];
    for (int c = 0; c < 16; c++) {
        int ch = a->c + c;
        for (int t = 0; t < 9; t++) wl[t][c] = c < n_ch ? a->w[c * 9 + t] : 0.0f;
        bl[c] = c < n_ch && biases ? biases[ch] : 0.0f;
        sl[c] = c < n_ch && a->act->act == FR_ACT_PRELU ? a->act->slope[ch] : a->act->alpha;
    }
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_loadu_ps(wl[t]);
    const __m512 bias = _mm512_loadu_ps(bl), slope = _mm512_loadu_ps(sl);
    /* compute: one vector of 16 channels per output pixel */
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            const float *base = tile + ((size_t)(oy * s - a->pt + CB_RING) * tw + (ox * s - a->pl + CB_RING)) * 16;
            __m512 acc = bias;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    acc = _mm512_fmadd_ps(wv[ky * 3 + kx], _mm512_loadu_ps(base + ((size_t)ky * tw + kx) * 16), acc);
            _mm512_storeu_ps(res + ((size_t)oy * ow + ox) * 16, act_vec(acc, a->act, slope));
        }
    /* out: nq pixels × 16 channels → 16 planes */
    for (int q0 = 0; q0 < nq; q0 += 16) {
        int m = nq - q0 < 16 ? nq - q0 : 16;
        for (int k = 0; k < 16; k++) r[k] = k < m ? _mm512_loadu_ps(res + (size_t)(q0 + k) * 16) : z;
        tr16(r);
        __mmask16 qm = (__mmask16)((1u << m) - 1);
        for (int c = 0; c < n_ch; c++) _mm512_mask_storeu_ps(a->out + (size_t)c * nq + q0, qm, r[c]);
    }
    (void)chm;
}
