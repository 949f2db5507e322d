// NumPy .npy files: read float16, float32 and float64 arrays of either byte order, as
// float32 or as a 16-bit attn type; write float32 and float16 arrays (little-endian).
//
// Format (numpy.lib.format): "\x93NUMPY", major, minor, a little-endian header
// length (uint16 for 1.0, uint32 for 2.0/3.0), then an ASCII (3.0: UTF-8)
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and '\n', then the raw data in C order.
//
// The reader trusts nothing in the file: the header length is capped, the
// shape product is checked for overflow, and the declared data size must equal
// what the file holds before any buffer is allocated. Every error names the
// file and the field and says what was expected and what was found.
#pragma once

#include "workload/aligned_vector.hpp"

#include <attn/dtype.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::npy {

/// A malformed, unsupported or unreadable .npy input (an input error: exit status 2).
class Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Longest header accepted (NumPy itself refuses more than 10000 bytes by default).
inline constexpr std::size_t kMaxHeaderBytes = 65536;
/// Most dimensions accepted (NumPy's own limit is 32 before 2.0, 64 after).
inline constexpr std::size_t kMaxDims = 64;

/// The element types a file may hold: NumPy's float16 ('f2'), float32 ('f4'), float64 ('f8').
enum class DType { f2, f4, f8 };

/// Bytes per element of `t`.
constexpr std::size_t item_size(DType t) {
  return t == DType::f2 ? 2 : t == DType::f4 ? 4 : 8;
}

/// "float16", "float32", "float64".
const char* numpy_name(DType t);

/// What the header declares, after validation.
struct Header {
  int major = 1, minor = 0;
  DType dtype = DType::f4;
  bool big_endian = false;          ///< '>f4': swapped on reading
  std::vector<std::int64_t> shape;  ///< empty: a scalar, one element
  std::int64_t count = 1;           ///< product of shape (checked)
  std::int64_t data_offset = 0;     ///< bytes before the data
  std::int64_t data_bytes = 0;      ///< count * item size (checked)
  std::size_t item_size() const { return npy::item_size(dtype); }
  std::string descr() const;  ///< "'<f4'", "'>f2'": as the header spells it, quoted
};

/// A file's values as element type T: float (float16 widened exactly, float64 rounded),
/// attn::f16 or attn::bf16 (every file dtype rounded to nearest even through float32,
/// float16 files into f16 unchanged), starting on a 64-byte boundary as a KV cache does
/// (workload/aligned_vector.hpp), so `attnlab run` times kernels on the layout they meet.
template <class T>
struct BasicArray {
  std::vector<std::int64_t> shape;
  AlignedVector<T> data;
  DType stored = DType::f4;    ///< what the file holds
  bool converted = false;      ///< values were rounded on reading (float64 to float32, or to a 16-bit T)
  std::size_t overflowed = 0;  ///< finite values too large for T (now +-inf)
};
using Array = BasicArray<float>;

/// Decodes and validates the header at the start of `bytes` (which may hold
/// only a prefix of the file). `name` (the path) prefixes every message.
Header parse_header(std::string_view bytes, const std::string& name);

/// A whole .npy image held in memory; its size must match the header exactly.
Array parse(std::string_view bytes, const std::string& name);

/// Reads and validates only the header of `path`, and checks the file size
/// against it (cheap; use it to size work before reading).
Header inspect(const std::string& path);

/// Reads `path` as element type T (float, attn::f16 or attn::bf16; see BasicArray).
/// Throws npy::Error naming the path and what is wrong.
template <class T>
BasicArray<T> read_as(const std::string& path);

/// Reads rows [start, start + count) of axis `axis` only (offset reads: one per index of the
/// axes before it), e.g. one rank's rows of [H, N, d] with axis 1. The array's shape has
/// `count` at `axis`. Throws npy::Error naming the path, as read().
template <class T>
BasicArray<T> read_rows_as(const std::string& path, std::size_t axis, std::int64_t start, std::int64_t count);

/// read_as<float>: every file dtype as float32.
inline Array read(const std::string& path) {
  return read_as<float>(path);
}
inline Array read_rows(const std::string& path, std::size_t axis, std::int64_t start, std::int64_t count) {
  return read_rows_as<float>(path, axis, start, count);
}

/// The header of encode(): a C-order .npy 1.0 header for `shape` of '<f4' (or '<f2'),
/// padded to 64 bytes.
std::string encode_header(std::span<const std::int64_t> shape, DType dtype = DType::f4);

/// The .npy 1.0 image of a C-order float32 ('<f4') or float16 ('<f2') array (header padded
/// to 64 bytes). Throws std::invalid_argument when shape does not describe data.size() elements.
std::string encode(std::span<const float> data, std::span<const std::int64_t> shape);
std::string encode(std::span<const attn::f16> data, std::span<const std::int64_t> shape);

/// Writes `data` as a .npy file atomically (temporary file, then rename).
void write(const std::string& path, std::span<const float> data, std::span<const std::int64_t> shape);
void write(const std::string& path, std::span<const attn::f16> data, std::span<const std::int64_t> shape);

/// "(2, 3)", "(5,)", "()": a shape as NumPy prints it.
std::string shape_string(std::span<const std::int64_t> shape);

}  // namespace attnlab::npy
