// attnlab public API: scaled dot-product attention, softmax(Q Kᵀ · scale) V.
//
// Tensors are views over memory the caller owns:
//   Q [B, H,   Nq, d]    K [B, Hkv, Nk, d]    V [B, Hkv, Nk, dv]
//   O [B, H,   Nq, dv]   LSE [B, H, Nq] (natural log; optional)
// Q, K, V, O and the mask each have their own dtype (attn/dtype.hpp: f32, f16, bf16), in any
// combination; LSE is fp32. Every kernel computes in fp32 (16-bit values are widened exactly
// on load) and rounds O to its dtype once, to nearest even.
// The last dimension is contiguous (stride 1); the other strides are free, so
// permuted or sliced heads and batches work. Hkv divides H: query head h reads
// key/value head h / (H / Hkv) (grouped-query attention). Nq may differ from Nk.
#pragma once

#include <attn/dtype.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace attn {

/// Every invalid call throws this, with a message that names the argument and
/// says what was expected and what was found.
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A strided 4-D view [B, H, N, D]; strides are in elements. T: float, f16 or bf16 (const or not).
template <class T>
struct TensorView {
  T* data = nullptr;
  std::array<std::int64_t, 4> shape{0, 0, 0, 0};
  std::array<std::int64_t, 4> strides{0, 0, 0, 1};

  /// A dense, row-major view.
  static TensorView contiguous(T* data, std::int64_t b, std::int64_t h, std::int64_t n, std::int64_t d) {
    return {data, {b, h, n, d}, {h * n * d, n * d, d, 1}};
  }
  std::int64_t batch() const { return shape[0]; }
  std::int64_t heads() const { return shape[1]; }
  std::int64_t rows() const { return shape[2]; }
  std::int64_t cols() const { return shape[3]; }
  /// Pointer to row n of head h of batch b.
  T* row(std::int64_t b, std::int64_t h, std::int64_t n) const {
    return data + b * strides[0] + h * strides[1] + n * strides[2];
  }
  operator TensorView<const T>() const { return {data, shape, strides}; }
};

using Tensor = TensorView<float>;
using ConstTensor = TensorView<const float>;

/// The element types a tensor may have (attn/dtype.hpp), const or not.
template <class T>
concept Element = std::is_same_v < std::remove_const_t<T>,
float > || std::is_same_v<std::remove_const_t<T>, f16> || std::is_same_v<std::remove_const_t<T>, bf16>;

/// A read-only view of any dtype: what attention() takes for q, k and v. Converts implicitly
/// from every TensorView (Tensor, ConstTensor, TensorView<const f16>, ...), so fp32 callers
/// pass their views as before.
struct AnyConstTensor {
  const void* data = nullptr;
  DType dtype = DType::f32;
  std::array<std::int64_t, 4> shape{0, 0, 0, 0};
  std::array<std::int64_t, 4> strides{0, 0, 0, 1};

  AnyConstTensor() = default;
  template <Element T>
  AnyConstTensor(const TensorView<T>& t) : data(t.data), dtype(dtype_of<T>), shape(t.shape), strides(t.strides) {}

  /// The typed view; T must be this view's dtype (checked by the caller: kernels see only
  /// the dtypes they declared).
  template <Element T>
  TensorView<const T> as() const {
    return {static_cast<const T*>(data), shape, strides};
  }
  std::int64_t rows() const { return shape[2]; }
  std::int64_t cols() const { return shape[3]; }
};

/// A writable view of any dtype: what attention() takes for out.
struct AnyTensor {
  void* data = nullptr;
  DType dtype = DType::f32;
  std::array<std::int64_t, 4> shape{0, 0, 0, 0};
  std::array<std::int64_t, 4> strides{0, 0, 0, 1};

  AnyTensor() = default;
  template <Element T>
  requires(!std::is_const_v<T>) AnyTensor(const TensorView<T>& t)
      : data(t.data), dtype(dtype_of<T>), shape(t.shape), strides(t.strides) {}

  /// The typed view; T must be this view's dtype.
  template <Element T>
  TensorView<T> as() const {
    return {static_cast<T*>(data), shape, strides};
  }
  operator AnyConstTensor() const {
    AnyConstTensor c;
    c.data = data, c.dtype = dtype, c.shape = shape, c.strides = strides;
    return c;
  }
};

/// A pointer to read-only elements of any dtype (the additive mask's data). Converts from
/// const float*, const f16*, const bf16* and nullptr; `p + n` steps n elements.
struct AnyConstPtr {
  const void* ptr = nullptr;
  DType dtype = DType::f32;

  AnyConstPtr() = default;
  AnyConstPtr(std::nullptr_t) {}
  template <Element T>
  AnyConstPtr(T* p) : ptr(p), dtype(dtype_of<T>) {}

  explicit operator bool() const { return ptr != nullptr; }
  friend bool operator==(const AnyConstPtr& a, std::nullptr_t) { return a.ptr == nullptr; }
  friend bool operator==(const AnyConstPtr& a, const AnyConstPtr& b) { return a.ptr == b.ptr && a.dtype == b.dtype; }
  friend AnyConstPtr operator+(AnyConstPtr a, std::int64_t n) {
    a.ptr = static_cast<const char*>(a.ptr) + n * static_cast<std::int64_t>(size_of(a.dtype));
    return a;
  }
  /// The typed pointer; T must be this pointer's dtype.
  template <Element T>
  const T* as() const {
    return static_cast<const T*>(ptr);
  }
};

/// 2-D [N, d] and 3-D [H, N, d] helpers for dense arrays.
inline Tensor view2d(float* p, std::int64_t n, std::int64_t d) {
  return Tensor::contiguous(p, 1, 1, n, d);
}
inline ConstTensor view2d(const float* p, std::int64_t n, std::int64_t d) {
  return ConstTensor::contiguous(p, 1, 1, n, d);
}
inline Tensor view3d(float* p, std::int64_t h, std::int64_t n, std::int64_t d) {
  return Tensor::contiguous(p, 1, h, n, d);
}
inline ConstTensor view3d(const float* p, std::int64_t h, std::int64_t n, std::int64_t d) {
  return ConstTensor::contiguous(p, 1, h, n, d);
}
/// LSE [B, H, Nq] as a view with a last dimension of 1.
inline Tensor lse_view(float* p, std::int64_t b, std::int64_t h, std::int64_t n) {
  return Tensor::contiguous(p, b, h, n, 1);
}

/// Which keys a query row may see.
enum class Causal {
  none,
  top_left,     ///< query i sees keys 0..i (PyTorch is_causal)
  bottom_right  ///< query i sees keys 0..i+Nk-Nq (FlashAttention >= 2.1, KV-cache decoding)
};

/// An additive mask [Nq, Nk] of any dtype (f32, f16, bf16), broadcast over B and H.
/// -inf masks a key. A masked position selects: whatever K/V hold there never reaches the output.
struct Mask {
  AnyConstPtr data;             ///< nullptr: no mask; a const float*, const f16* or const bf16*
  std::int64_t rows = 0;        ///< must equal Nq
  std::int64_t cols = 0;        ///< must equal Nk
  std::int64_t row_stride = 0;  ///< elements between rows; 0 means cols
};

/// The dtype of each tensor of a call (the mask's only matters when there is one).
struct DTypes {
  DType q = DType::f32, k = DType::f32, v = DType::f32, out = DType::f32, mask = DType::f32;
  friend bool operator==(const DTypes&, const DTypes&) = default;
};

struct Options {
  /// Multiplies Q Kᵀ. Unset: 1/sqrt(d). Applied exactly as given (0 means 0).
  std::optional<float> scale;
  Causal causal = Causal::none;
  /// Global positions of this call's first query row and first key, for attention over
  /// chunks of a longer sequence (ring attention, a paged KV cache): under causal masking
  /// key j is visible to query row i iff
  ///   kv_offset + j <= q_offset + i (+ Nk - Nq for bottom_right).
  /// Both >= 0; ignored when causal is none. Chunks computed with their offsets and
  /// merged with merge_partials (attn/merge.hpp) give the whole call's result.
  std::int64_t q_offset = 0, kv_offset = 0;
  Mask mask;
  /// Threads for this call; 0 = the OpenMP default.
  int threads = 0;
  /// A registered kernel name, or "auto" for the fastest that supports the call.
  std::string kernel = "auto";
  /// Largest workspace a call may allocate, in bytes; 0 = half of physical memory.
  std::size_t memory_budget = 0;
};

/// The shape and options of one call, as the registry sees it.
struct Problem {
  std::int64_t batch = 1, heads = 1, kv_heads = 1;
  std::int64_t q_len = 0, kv_len = 0, head_dim = 0, value_dim = 0;
  Causal causal = Causal::none;
  bool has_mask = false;
  bool wants_lse = false;
  int threads = 1;  ///< resolved thread count (never 0)
  /// Global positions of the first query row and key (Options::q_offset, kv_offset).
  std::int64_t q_offset = 0, kv_offset = 0;
  /// The dtypes of q, k, v, out and the mask (all f32 by default).
  DTypes dtypes;

  /// Q Kᵀ and P V multiply-adds counted as 2 FLOPs each; keys the causal mask hides
  /// (offsets included) are not counted, additive-mask entries are.
  double flops() const;
};

/// Checks a call as attention() does, without computing anything: every view (shape,
/// strides, data, overlaps), every option, and that options.kernel names a registered
/// kernel that supports the call within the memory budget ("auto": that one exists).
/// Returns the resolved problem (threads resolved, never 0); throws attn::Error
/// naming the argument. attention() is validate → plan (kernel, workspace) → run.
/// An empty `lse` view (data nullptr, shape all 0) means the LSE is not wanted. Views (and
/// options.mask) whose data is null are checked for shape and strides only, so that a caller
/// can validate a call before it reads or allocates anything (`attnlab run` does);
/// attention() requires the data.
/// q, k, v and out may be views of any dtype (fp32 views convert implicitly).
Problem validate(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, Tensor lse,
                 const Options& options = {});

/// Computes out = softmax(q kᵀ · scale + mask) v, and lse if given.
/// Validates every argument before touching memory; throws attn::Error.
void attention(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, const Options& options = {});
void attention(AnyConstTensor q, AnyConstTensor k, AnyConstTensor v, AnyTensor out, Tensor lse,
               const Options& options = {});

/// Half of physical memory: the default Options::memory_budget.
std::size_t default_memory_budget();

/// attention() keeps a call's workspace, up to 16 MiB, for the calling thread's next call
/// (docs/api.md, Memory). This frees the calling thread's kept buffer now; the next call
/// allocates again. Threads free theirs when they exit.
void release_workspace_cache();

/// Name of a causal alignment as the CLI spells it ("none", "top-left", "bottom-right").
const char* to_string(Causal c);

/// Library version, "MAJOR.MINOR.PATCH".
const char* version();

}  // namespace attn
