#include "inference/winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// Only the functions marked MZ_AVX2 use AVX2 and FMA, and only those marked
// MZ_AVX512 use AVX-512: the rest of this file (and every inline function it
// shares with other files) is built for the baseline ISA, so nothing here
// runs an instruction the CPU lacks (supported(), has_avx512f()).
#define MZ_AVX2 __attribute__((target("avx2,fma")))
#define MZ_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define MZ_INLINE inline __attribute__((always_inline))

namespace modelzoo::winograd {
namespace {

constexpr int kLanes = 8;  // floats per AVX2 register
// Output tile: F(2 x 2, 3 x 3), 4 x 4 input patches and transformed positions.
constexpr int kM = 2;
constexpr int kTile = kM + 2;
constexpr int64_t kPositions = kTile * kTile;

// Output channels per column strip of the matrix products: two registers,
// of 8 floats with AVX2, of 16 with AVX-512.
constexpr int64_t kStrip = 16;
constexpr int64_t kStrip512 = 32;
// Tiles per row block of the matrix products: 6 x 2 accumulators, 2 weight
// registers and a broadcast fill 15 of AVX2's 16 registers; 12 x 2, 2 and 1
// fill 27 of AVX-512's 32.
constexpr int kRows = 6;
constexpr int kRows512 = 12;
// Tiles per chunk. Fewer tiles keep a chunk's transformed data in the L2
// cache but read the whole transformed weight once per chunk; measured on
// one Zen 3 core, 96 was within noise of 24 and 48 for 64 -> 64 over
// 224 x 224, 128 -> 128 over 112 x 112 and 256 -> 256 over 56 x 56, and
// 512 -> 512 over 28 x 28 was 30-50% slower with 24 (15 against 20-23 ms).
constexpr int64_t kChunkTiles = 96;

float* allocate(std::size_t floats) {
  const std::size_t bytes = (std::max<std::size_t>(floats, 1) * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

// ---------------------------------------------------------------------------
// The transforms (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for m = 2, interpolation points 0, 1, -1: 1-D passes of
// B^T and A^T, which the 2-D transforms apply along columns, then rows.
// ---------------------------------------------------------------------------

// One 1-D pass of B^T over 4 input values.
MZ_AVX2 MZ_INLINE void input_pass(const __m256 (&d)[4], __m256 (&r)[4]) {
  r[0] = _mm256_sub_ps(d[0], d[2]);
  r[1] = _mm256_add_ps(d[1], d[2]);
  r[2] = _mm256_sub_ps(d[2], d[1]);
  r[3] = _mm256_sub_ps(d[1], d[3]);
}

// One 1-D pass of A^T: 4 transformed values to 2 outputs.
MZ_AVX2 MZ_INLINE void output_pass(const __m256 (&s)[4], __m256 (&o)[2]) {
  o[0] = _mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]);
  o[1] = _mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]);
}

// G (4 x 3).
constexpr double kG[kTile][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// Whether the matrix products run on AVX-512 (the transforms stay AVX2:
// they move data more than they compute).
bool has_avx512f() {
  static const bool ok = __builtin_cpu_supports("avx512f");
  return ok;
}

// U = G g G^T for every (output, input) channel pair, laid out as the
// matrix products read it (see Filter::u_), in strips of `strip` channels.
void transform_weight(const float* weight, int64_t oc, int64_t ic, int64_t ic8, int64_t strip_width, float* u) {
  constexpr int t = kTile;
  std::memset(u, 0, sizeof(float) * static_cast<std::size_t>(t * t * ic8 * oc));
  for (int64_t o = 0; o < oc; ++o) {
    const int64_t strip = o / strip_width, lane = o % strip_width;
    const int64_t width = std::min(strip_width, oc - strip * strip_width);
    for (int64_t i = 0; i < ic; ++i) {
      const float* g = weight + (o * ic + i) * 9;
      double gg[t][3];  // G g
      for (int r = 0; r < t; ++r) {
        for (int c = 0; c < 3; ++c) {
          gg[r][c] = kG[r][0] * g[c] + kG[r][1] * g[3 + c] + kG[r][2] * g[6 + c];
        }
      }
      for (int r = 0; r < t; ++r) {
        for (int c = 0; c < t; ++c) {
          const double v = gg[r][0] * kG[c][0] + gg[r][1] * kG[c][1] + gg[r][2] * kG[c][2];
          const int64_t pos = r * t + c;
          u[pos * ic8 * oc + strip * strip_width * ic8 + i * width + lane] = static_cast<float>(v);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The matrix products: C (rows x width) = A (rows x k, row stride lda) times
// B (k x width, packed), for up to kRows rows and 1 or 2 registers of width.
// ---------------------------------------------------------------------------

template <int R, int V>
MZ_AVX2 MZ_INLINE void block_product(const float* a, int64_t lda, const float* b, int64_t k, float* c,
                                     int64_t ldc) {
  __m256 acc[R][V];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < k; ++i) {
    __m256 bv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) bv[v] = _mm256_load_ps(b + (i * V + v) * kLanes);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + i);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(c + r * ldc + v * kLanes, acc[r][v]);
  }
}

template <int V>
MZ_AVX2 void strip_product(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k, float* c,
                           int64_t ldc) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) block_product<kRows, V>(a + r * lda, lda, b, k, c + r * ldc, ldc);
  switch (rows - r) {
    case 1: block_product<1, V>(a + r * lda, lda, b, k, c + r * ldc, ldc); break;
    case 2: block_product<2, V>(a + r * lda, lda, b, k, c + r * ldc, ldc); break;
    case 3: block_product<3, V>(a + r * lda, lda, b, k, c + r * ldc, ldc); break;
    case 4: block_product<4, V>(a + r * lda, lda, b, k, c + r * ldc, ldc); break;
    case 5: block_product<5, V>(a + r * lda, lda, b, k, c + r * ldc, ldc); break;
    default: break;
  }
}

// The same on AVX-512, for W = 8, 16, 24 or 32 columns: W / 16 registers of
// 16 floats and, for 8 or 24, one of 8.
template <int R, int W>
MZ_AVX512 MZ_INLINE void block_product512(const float* a, int64_t lda, const float* b, int64_t k, float* c,
                                          int64_t ldc) {
  constexpr int Z = W / 16;
  constexpr bool kHalf = W % 16 != 0;
  __m512 acc[R][Z > 0 ? Z : 1];
  __m256 half[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) acc[r][z] = _mm512_setzero_ps();
    if constexpr (kHalf) half[r] = _mm256_setzero_ps();
  }
  for (int64_t i = 0; i < k; ++i) {
    __m512 bz[Z > 0 ? Z : 1];
    __m256 bh;
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) bz[z] = _mm512_loadu_ps(b + i * W + z * 16);
    if constexpr (kHalf) bh = _mm256_loadu_ps(b + i * W + Z * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const float ar = a[r * lda + i];
      if constexpr (Z > 0) {
        const __m512 av = _mm512_set1_ps(ar);
#pragma GCC unroll 2
        for (int z = 0; z < Z; ++z) acc[r][z] = _mm512_fmadd_ps(av, bz[z], acc[r][z]);
      }
      if constexpr (kHalf) half[r] = _mm256_fmadd_ps(_mm256_set1_ps(ar), bh, half[r]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int z = 0; z < Z; ++z) _mm512_storeu_ps(c + r * ldc + z * 16, acc[r][z]);
    if constexpr (kHalf) _mm256_storeu_ps(c + r * ldc + Z * 16, half[r]);
  }
}

template <int W, int... Rs>
MZ_AVX512 MZ_INLINE void rest_product512(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k,
                                         float* c, int64_t ldc, std::integer_sequence<int, Rs...>) {
  // rows (< kRows512) left after the full blocks: one block of that many.
  ((rows == Rs + 1 ? block_product512<Rs + 1, W>(a, lda, b, k, c, ldc) : void()), ...);
}

template <int W>
MZ_AVX512 void strip_product512(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k, float* c,
                                int64_t ldc) {
  int64_t r = 0;
  for (; r + kRows512 <= rows; r += kRows512) {
    block_product512<kRows512, W>(a + r * lda, lda, b, k, c + r * ldc, ldc);
  }
  rest_product512<W>(a + r * lda, lda, rows - r, b, k, c + r * ldc, ldc,
                     std::make_integer_sequence<int, kRows512 - 1>());
}

// ---------------------------------------------------------------------------
// One chunk of tiles: input transform, the products, output transform.
// ---------------------------------------------------------------------------

struct Geometry {
  int64_t n, h, w, ic, ic8, oc, pad_h, pad_w, oh, ow, tiles_h, tiles_w;
};

// 8 channels from c on of the pixel at p (in_channels - c of them when fewer).
MZ_AVX2 MZ_INLINE __m256 load_channels(const float* p, int64_t left, __m256i tail_mask) {
  return left >= kLanes ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask);
}

MZ_AVX2 void transform_input(const Geometry& g, const float* x, int64_t first, int64_t count, float* v,
                             int64_t chunk) {
  constexpr int t = kTile;
  const int64_t tail = g.ic % kLanes;
  alignas(32) int32_t mask_bits[kLanes];
  for (int j = 0; j < kLanes; ++j) mask_bits[j] = j < tail ? -1 : 0;
  const __m256i tail_mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(mask_bits));
  const int64_t position_stride = chunk * g.ic8;  // floats between positions in v
  for (int64_t j = 0; j < count; ++j) {
    const int64_t tile = first + j;
    const int64_t img = tile / (g.tiles_h * g.tiles_w), rest = tile % (g.tiles_h * g.tiles_w);
    const int64_t y0 = rest / g.tiles_w * kM - g.pad_h, x0 = rest % g.tiles_w * kM - g.pad_w;
    const bool inside = y0 >= 0 && x0 >= 0 && y0 + t <= g.h && x0 + t <= g.w;
    const float* base = x + img * g.h * g.w * g.ic;
    for (int64_t c = 0; c < g.ic8; c += kLanes) {
      const int64_t left = g.ic - c;
      __m256 s[t][t];  // B^T d
#pragma GCC unroll 6
      for (int q = 0; q < t; ++q) {
        __m256 col[t], out[t];
        const int64_t xx = x0 + q;
#pragma GCC unroll 6
        for (int r = 0; r < t; ++r) {
          const int64_t yy = y0 + r;
          const float* p = base + (yy * g.w + xx) * g.ic + c;
          if (inside && left >= kLanes) {
            col[r] = _mm256_loadu_ps(p);
          } else {
            col[r] = yy >= 0 && yy < g.h && xx >= 0 && xx < g.w ? load_channels(p, left, tail_mask)
                                                                 : _mm256_setzero_ps();
          }
        }
        input_pass(col, out);
#pragma GCC unroll 6
        for (int r = 0; r < t; ++r) s[r][q] = out[r];
      }
      float* dst = v + j * g.ic8 + c;
#pragma GCC unroll 6
      for (int r = 0; r < t; ++r) {
        __m256 out[t];
        input_pass(s[r], out);  // (B^T d) B, row r
#pragma GCC unroll 6
        for (int q = 0; q < t; ++q) _mm256_storeu_ps(dst + (r * t + q) * position_stride, out[q]);
      }
    }
  }
}

MZ_AVX2 void transform_output(const Geometry& g, const float* mt, int64_t first, int64_t count, int64_t chunk,
                              const float* bias, bool relu, float* y) {
  constexpr int t = kTile;
  const int64_t position_stride = chunk * g.oc;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t j = 0; j < count; ++j) {
    const int64_t tile = first + j;
    const int64_t img = tile / (g.tiles_h * g.tiles_w), rest = tile % (g.tiles_h * g.tiles_w);
    const int64_t y0 = rest / g.tiles_w * kM, x0 = rest % g.tiles_w * kM;
    const int64_t rows = std::min<int64_t>(kM, g.oh - y0), cols = std::min<int64_t>(kM, g.ow - x0);
    const bool full = rows == kM && cols == kM;
    float* base = y + img * g.oh * g.ow * g.oc;
    for (int64_t c = 0; c < g.oc; c += kLanes) {
      const float* src = mt + j * g.oc + c;
      __m256 s[kM][t];  // A^T m
#pragma GCC unroll 6
      for (int q = 0; q < t; ++q) {
        __m256 col[t], out[kM];
#pragma GCC unroll 6
        for (int r = 0; r < t; ++r) col[r] = _mm256_loadu_ps(src + (r * t + q) * position_stride);
        output_pass(col, out);
#pragma GCC unroll 4
        for (int r = 0; r < kM; ++r) s[r][q] = out[r];
      }
      const __m256 b = _mm256_loadu_ps(bias + c);
#pragma GCC unroll 4
      for (int r = 0; r < kM; ++r) {
        __m256 out[kM];
        output_pass(s[r], out);
#pragma GCC unroll 4
        for (int q = 0; q < kM; ++q) {
          __m256 o = _mm256_add_ps(out[q], b);
          if (relu) o = _mm256_max_ps(o, zero);
          if (full || (r < rows && q < cols)) _mm256_storeu_ps(base + ((y0 + r) * g.ow + x0 + q) * g.oc + c, o);
        }
      }
    }
  }
}

// A strip's matrix product (strip_product, strip_product512).
using StripProduct = void (*)(const float* a, int64_t lda, int64_t rows, const float* b, int64_t k, float* c,
                              int64_t ldc);

// Output channels per strip, tiles per row block, and the strip products by
// width / 8 (index 0 unused), for the products' instruction set.
struct Kernels {
  int64_t strip;
  int64_t rows;
  StripProduct by_width[5];
};

const Kernels& kernels(Isa isa) {
  static const Kernels avx2{kStrip, kRows, {nullptr, strip_product<1>, strip_product<2>, nullptr, nullptr}};
  static const Kernels avx512{kStrip512,
                              kRows512,
                              {nullptr, strip_product512<8>, strip_product512<16>, strip_product512<24>,
                               strip_product512<32>}};
  return isa == Isa::avx512 ? avx512 : avx2;
}

// The 16 products of a chunk of `count` tiles: mt = v times u, per position,
// strip by strip (the last one may be narrower; see Filter::u_).
void products(const Geometry& g, const Kernels& k, const float* u, const float* v, int64_t count, int64_t chunk,
              float* mt) {
  for (int pos = 0; pos < kPositions; ++pos) {
    const float* a = v + pos * chunk * g.ic8;
    const float* b = u + pos * g.ic8 * g.oc;
    float* c = mt + pos * chunk * g.oc;
    for (int64_t s = 0; s < g.oc; s += k.strip) {
      const int64_t width = std::min(k.strip, g.oc - s);
      k.by_width[width / kLanes](a, g.ic8, count, b + s * g.ic8, g.ic8, c + s, g.oc);
    }
  }
}

void run_chunk(const Geometry& g, const Kernels& k, const float* u, const float* bias, const float* x, int64_t first,
               int64_t count, int64_t chunk, float* v, float* mt, bool relu, float* y) {
  transform_input(g, x, first, count, v, chunk);
  products(g, k, u, v, count, chunk, mt);
  transform_output(g, mt, first, count, chunk, bias, relu, y);
}

// Scratch of the calling thread, kept from call to call (no fresh pages for
// every layer).
float* scratch(std::size_t floats) {
  struct Buffer {
    float* p = nullptr;
    std::size_t size = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer buf;
  if (buf.size < floats) {
    std::free(buf.p);
    buf.p = nullptr;  // allocate may throw
    buf.size = 0;
    buf.p = allocate(floats);
    buf.size = floats;
  }
  return buf.p;
}

void convolve_tiles(const Geometry& g, const Kernels& k, const float* u, const float* bias, const float* x, float* y,
                    bool relu, int threads) {
  constexpr int t = kTile;
  const int64_t tiles = g.n * g.tiles_h * g.tiles_w;
  // With several threads, small layers (a 14 x 14 image has 49 tiles) are
  // still split between them.
  const int64_t per_thread_tiles = (tiles + std::max(threads, 1) - 1) / std::max(threads, 1);
  const int64_t chunk = std::min(kChunkTiles, (per_thread_tiles + k.rows - 1) / k.rows * k.rows);
  const int64_t chunks = (tiles + chunk - 1) / chunk;
  const std::size_t per_thread = static_cast<std::size_t>(t * t * chunk * (g.ic8 + g.oc));
  const auto one = [&](int64_t i) {
    float* v = scratch(per_thread);
    const int64_t first = i * chunk;
    run_chunk(g, k, u, bias, x, first, std::min(chunk, tiles - first), chunk, v, v + t * t * chunk * g.ic8, relu, y);
  };
  if (threads <= 1 || chunks == 1) {
    for (int64_t i = 0; i < chunks; ++i) one(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < chunks; ++i) one(i);
}

}  // namespace

bool supported() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

Isa best_isa() { return has_avx512f() ? Isa::avx512 : Isa::avx2; }

void Filter::Free::operator()(float* p) const { std::free(p); }

Filter::Filter(const float* weight, const float* bias, int64_t out_channels, int64_t in_channels, Isa isa)
    : oc_(out_channels),
      ic_(in_channels),
      ic8_((in_channels + kLanes - 1) / kLanes * kLanes),
      isa_(isa) {
  if (out_channels <= 0 || out_channels % kLanes || in_channels <= 0) {
    throw std::invalid_argument("winograd: " + std::to_string(out_channels) + " output channels (a multiple of 8) and " +
                                std::to_string(in_channels) + " input channels");
  }
  if (isa_ == Isa::avx512 && !has_avx512f()) throw std::invalid_argument("winograd: this CPU has no AVX-512F");
  u_.reset(allocate(static_cast<std::size_t>(kPositions * ic8_ * oc_)));
  transform_weight(weight, oc_, ic_, ic8_, kernels(isa_).strip, u_.get());
  bias_.reset(allocate(static_cast<std::size_t>(oc_)));
  for (int64_t o = 0; o < oc_; ++o) bias_[o] = bias ? bias[o] : 0.f;
}

std::size_t Filter::bytes() const { return static_cast<std::size_t>(kPositions * ic8_ * oc_) * sizeof(float); }

void convolve(const Filter& f, const float* x, int64_t n, int64_t h, int64_t w, int64_t pad_h, int64_t pad_w,
              float* y, bool relu, int threads) {
  if (!supported()) throw std::runtime_error("winograd: this CPU has no AVX2 and FMA");
  if (pad_h < 0 || pad_h > 2 || pad_w < 0 || pad_w > 2 || n <= 0 || h + 2 * pad_h < 3 || w + 2 * pad_w < 3) {
    throw std::invalid_argument("winograd: input " + std::to_string(h) + " x " + std::to_string(w) +
                                " with padding " + std::to_string(pad_h) + ", " + std::to_string(pad_w));
  }
  Geometry g{n, h, w, f.ic_, f.ic8_, f.oc_, pad_h, pad_w, h + 2 * pad_h - 2, w + 2 * pad_w - 2, 0, 0};
  g.tiles_h = (g.oh + kM - 1) / kM;
  g.tiles_w = (g.ow + kM - 1) / kM;
  convolve_tiles(g, kernels(f.isa_), f.u_.get(), f.bias_.get(), x, y, relu, threads);
}

}  // namespace modelzoo::winograd
