#include "npy.hpp"

#include "files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>

namespace attnlab::npy {

static_assert(std::endian::native == std::endian::little,
              ".npy '<f4' data is read and written as it is, '>f4' data swapped");

namespace {

using i64 = std::int64_t;
constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw Error(name + ": " + what);
}

std::uint32_t little_endian(std::string_view b, std::size_t at, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

/// A printable rendering of untrusted text for messages: at most 40 characters, non-ASCII escaped.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out + (s.size() > 40 ? "...'" : "'");
}

/// The header dict is a Python literal; this reads exactly the subset NumPy writes.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran, std::vector<i64>& shape) {
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_space();
    expect('{', "the dict to start with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal("a quoted key");
      skip_space();
      expect(':', "':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        if (seen_descr) fail(name_, "header: key 'descr' appears twice");
        seen_descr = true;
        if (peek() == '[')
          fail(name_,
               "field 'descr': structured dtypes (a list of fields) are not supported; save a plain float16, "
               "float32 or float64 array");
        descr = string_literal("a dtype string such as '<f4'");
      } else if (key == "fortran_order") {
        if (seen_fortran) fail(name_, "header: key 'fortran_order' appears twice");
        seen_fortran = true;
        fortran = boolean();
      } else if (key == "shape") {
        if (seen_shape) fail(name_, "header: key 'shape' appears twice");
        seen_shape = true;
        shape = tuple();
      } else {
        fail(name_, "header: unexpected key " + quoted(key) +
                        " (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') expected("',' or '}' after the value of '" + key + "'");
    }
    ++pos_;
    skip_space();
    if (pos_ != s_.size()) expected("only padding after the closing '}'");
    if (!seen_descr) fail(name_, "field 'descr': missing from the header");
    if (!seen_fortran) fail(name_, "field 'fortran_order': missing from the header");
    if (!seen_shape) fail(name_, "field 'shape': missing from the header");
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  [[noreturn]] void expected(const std::string& what) const {
    const std::string found = pos_ < s_.size() ? quoted(s_.substr(pos_, 12)) : "the end of the header";
    fail(name_, "header: expected " + what + " at byte " + std::to_string(pos_) + ", found " + found);
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) expected(what);
    ++pos_;
  }
  std::string string_literal(const std::string& what) {
    const char q = peek();
    if (q != '\'' && q != '"') expected(what);
    const std::size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) expected("a closing quote");
    std::string v(s_.substr(pos_ + 1, end - pos_ - 1));
    if (v.find('\\') != std::string::npos) expected("a string without escapes");
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    for (auto [word, value] : {std::pair{std::string_view("True"), true}, {std::string_view("False"), false}})
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    expected("True or False for 'fortran_order'");
  }
  std::vector<i64> tuple() {
    expect('(', "a tuple such as (2, 3) for 'shape'");
    std::vector<i64> dims;
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (dims.size() == kMaxDims) fail(name_, "field 'shape': more than " + std::to_string(kMaxDims) + " dimensions");
      dims.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') expected("',' or ')' in 'shape'");
    }
    ++pos_;
    return dims;
  }
  i64 integer() {
    if (peek() == '-') fail(name_, "field 'shape': negative dimension at byte " + std::to_string(pos_));
    if (peek() < '0' || peek() > '9') expected("a non-negative integer in 'shape'");
    i64 v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, i64{10}, &v) || __builtin_add_overflow(v, i64{peek() - '0'}, &v))
        fail(name_, "field 'shape': a dimension does not fit in a 64-bit integer");
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long literal, written by old NumPy
    return v;
  }

  std::string_view s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

/// The dtype and byte order of a 'descr' such as '<f4' or '>f2'.
void dtype_of(const std::string& descr, const std::string& name, Header& h) {
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '>') && descr[1] == 'f')
    for (DType t : {DType::f2, DType::f4, DType::f8})
      if (descr[2] == static_cast<char>('0' + item_size(t))) {
        h.dtype = t;
        h.big_endian = descr[0] == '>';
        return;
      }
  const std::string field = "field 'descr': ";
  if (descr.size() >= 2 && descr[1] == 'O')
    fail(name, field + "object arrays ('" + descr + "') are not supported; save a float32 array");
  fail(name, field + "dtype " + quoted(descr) +
                 " is not supported; expected float16, float32 or float64 ('<f2', '<f4', '<f8', or big-endian "
                 "'>f2', '>f4', '>f8') (save arr.astype(numpy.float32))");
}

std::string describe(const Header& h) {
  return "shape " + shape_string(h.shape) + " of " + h.descr();
}

/// The data must be exactly what the header declares: no truncation, no trailing bytes.
void check_data_size(const Header& h, i64 available, const std::string& name) {
  if (available == h.data_bytes) return;
  fail(name, std::string(available < h.data_bytes ? "truncated" : "trailing data") + ": the header declares " +
                 describe(h) + ", expected " + std::to_string(h.data_bytes) + " bytes of data, file has " +
                 std::to_string(available));
}

/// float64 -> float32 with the out-of-range case defined (a plain cast of a
/// finite value beyond FLT_MAX is undefined behaviour).
float narrow(double x, std::size_t& overflowed) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (std::isnan(x)) return std::numeric_limits<float>::quiet_NaN();
  if (x > kMax || x < -kMax) {
    if (std::isfinite(x)) ++overflowed;
    return x > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(x);
}

std::uint16_t swapped(std::uint16_t u) {
  return __builtin_bswap16(u);
}
std::uint32_t swapped(std::uint32_t u) {
  return __builtin_bswap32(u);
}
std::uint64_t swapped(std::uint64_t u) {
  return __builtin_bswap64(u);
}

/// The unsigned integer U at `p`, in the file's byte order.
template <class U>
U load_bits(const char* p, bool big_endian) {
  U u;
  std::memcpy(&u, p, sizeof(U));
  return big_endian ? swapped(u) : u;
}

/// One element of the file as float32 (float16 exactly, float64 rounded and counted).
float load(const char* p, const Header& h, std::size_t& overflowed) {
  switch (h.dtype) {
    case DType::f2:
      return attn::to_float(attn::f16{load_bits<std::uint16_t>(p, h.big_endian)});
    case DType::f4:
      return std::bit_cast<float>(load_bits<std::uint32_t>(p, h.big_endian));
    case DType::f8:
      break;
  }
  return narrow(std::bit_cast<double>(load_bits<std::uint64_t>(p, h.big_endian)), overflowed);
}

/// A float32 as element type T, rounded to nearest even; finite values that become inf are counted.
template <class T>
T store(float x, std::size_t& overflowed) {
  if constexpr (std::is_same_v<T, float>) {
    return x;
  } else {
    T r;
    if constexpr (std::is_same_v<T, attn::f16>)
      r = attn::to_f16(x);
    else
      r = attn::to_bf16(x);
    if (std::isfinite(x) && std::isinf(attn::to_float(r))) ++overflowed;
    return r;
  }
}

/// The file dtype whose bytes are a T's bytes (nothing to convert), if any.
template <class T>
constexpr std::optional<DType> same_storage() {
  if constexpr (std::is_same_v<T, float>) return DType::f4;
  if constexpr (std::is_same_v<T, attn::f16>) return DType::f2;
  return std::nullopt;
}

/// Whether reading h's data as T rounds values (float64 to float32, or to a 16-bit T).
template <class T>
bool rounds(const Header& h) {
  if (same_storage<T>() == h.dtype) return false;
  return h.dtype == DType::f8 || !std::is_same_v<T, float>;
}

/// Converts n elements of the file's data at `bytes` into `out` (which may be `bytes` itself
/// when the file's dtype is T's storage).
template <class T>
void convert(const char* bytes, std::size_t n, const Header& h, T* out, BasicArray<T>& a) {
  if (same_storage<T>() == h.dtype) {
    if (n > 0 && reinterpret_cast<const char*>(out) != bytes) std::memcpy(out, bytes, n * sizeof(T));
    if (h.big_endian)
      for (std::size_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, float>)
          out[i] = std::bit_cast<float>(swapped(std::bit_cast<std::uint32_t>(out[i])));
        else
          out[i].bits = swapped(out[i].bits);
      }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) out[i] = store<T>(load(bytes + i * h.item_size(), h, a.overflowed), a.overflowed);
}

/// An open file descriptor, closed on scope exit.
struct File {
  int fd = -1;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

/// Reads up to `n` bytes at `offset`; returns how many were read (fewer only at end of file).
std::size_t read_at(int fd, char* dst, std::size_t n, i64 offset, const std::string& name) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + static_cast<i64>(done)));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(name, std::string("read failed: ") + std::strerror(errno));
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return done;
}

/// Opens `path` for reading and returns its size; the file must be a regular file.
i64 open_regular(const std::string& path, File& f) {
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  return static_cast<i64>(st.st_size);
}

/// Reads the header of an open file and checks the file size against it.
Header read_header(int fd, i64 file_size, const std::string& path) {
  std::string prefix(static_cast<std::size_t>(std::min<i64>(file_size, 12 + static_cast<i64>(kMaxHeaderBytes))), '\0');
  prefix.resize(read_at(fd, prefix.data(), prefix.size(), 0, path));
  Header h = parse_header(prefix, path);
  check_data_size(h, file_size - h.data_offset, path);
  return h;
}

}  // namespace

std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

const char* numpy_name(DType t) {
  return t == DType::f2 ? "float16" : t == DType::f4 ? "float32" : "float64";
}

std::string Header::descr() const {
  return std::string("'") + (big_endian ? '>' : '<') + 'f' + static_cast<char>('0' + item_size()) + "'";
}

Header parse_header(std::string_view bytes, const std::string& name) {
  if (bytes.substr(0, kMagic.size()) != kMagic)
    fail(name, "field 'magic': not a .npy file (expected the bytes \\x93NUMPY at the start, found " +
                   quoted(bytes.substr(0, 6)) + ")");
  if (bytes.size() < 8) fail(name, "field 'version': the file ends inside the version bytes");
  Header h;
  h.major = static_cast<unsigned char>(bytes[6]);
  h.minor = static_cast<unsigned char>(bytes[7]);
  if (h.major < 1 || h.major > 3 || h.minor != 0)
    fail(name, "field 'version': format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                   " is not supported (expected 1.0, 2.0 or 3.0)");
  const std::size_t len_size = h.major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_size) fail(name, "field 'header_len': the file ends inside the header length");
  const std::size_t header_len = little_endian(bytes, 8, len_size);
  if (header_len > kMaxHeaderBytes)
    fail(name, "field 'header_len': " + std::to_string(header_len) + " bytes, more than the " +
                   std::to_string(kMaxHeaderBytes) + " accepted");
  const std::size_t start = 8 + len_size;
  if (bytes.size() - start < header_len)
    fail(name, "truncated: the header declares " + std::to_string(header_len) + " bytes of header, file has " +
                   std::to_string(bytes.size() - start));
  h.data_offset = static_cast<i64>(start + header_len);

  std::string descr;
  bool fortran = false;
  DictParser(bytes.substr(start, header_len), name).parse(descr, fortran, h.shape);
  dtype_of(descr, name, h);
  if (fortran)
    fail(name,
         "field 'fortran_order': Fortran (column-major) order is not supported; save numpy.ascontiguousarray(arr)");
  h.count = 1;
  for (i64 d : h.shape)
    if (__builtin_mul_overflow(h.count, d, &h.count))
      fail(name, "field 'shape': the element count of " + shape_string(h.shape) + " overflows a 64-bit integer");
  if (__builtin_mul_overflow(h.count, static_cast<i64>(h.item_size()), &h.data_bytes))
    fail(name, "field 'shape': the byte size of " + shape_string(h.shape) + " overflows a 64-bit integer");
  return h;
}

Array parse(std::string_view bytes, const std::string& name) {
  const Header h = parse_header(bytes, name);
  check_data_size(h, static_cast<i64>(bytes.size()) - h.data_offset, name);
  Array a;
  a.shape = h.shape;
  a.stored = h.dtype;
  a.converted = rounds<float>(h);
  a.data.resize(static_cast<std::size_t>(h.count));  // bounded by bytes.size() above
  convert(bytes.data() + h.data_offset, a.data.size(), h, a.data.data(), a);
  return a;
}

Header inspect(const std::string& path) {
  File f;
  const i64 size = open_regular(path, f);
  return read_header(f.fd, size, path);
}

namespace {

/// Reads elements [first, first + n) of the file's data into dst, converted to T;
/// returns the bytes read (fewer only when the file shrank meanwhile).
template <class T>
std::size_t read_elements(int fd, const Header& h, i64 first, std::size_t n, T* dst, BasicArray<T>& a,
                          const std::string& path) {
  const std::size_t item = h.item_size();
  const i64 offset = h.data_offset + first * static_cast<i64>(item);
  if (same_storage<T>() == h.dtype) {  // straight into dst, then swapped in place if big-endian
    const std::size_t got = read_at(fd, reinterpret_cast<char*>(dst), n * item, offset, path);
    convert(reinterpret_cast<const char*>(dst), got / item, h, dst, a);
    return got;
  }
  constexpr std::size_t kChunk = 8192;  // elements per read
  const auto buf = std::make_unique<char[]>(kChunk * item);
  std::size_t got = 0;
  for (std::size_t i = 0; i < n; i += kChunk) {
    const std::size_t m = std::min(kChunk, n - i);
    const std::size_t r = read_at(fd, buf.get(), m * item, offset + static_cast<i64>(i * item), path);
    got += r;
    if (r != m * item) break;
    convert(buf.get(), m, h, dst + i, a);
  }
  return got;
}

template <class T>
BasicArray<T> array_for(const Header& h) {
  BasicArray<T> a;
  a.shape = h.shape;
  a.stored = h.dtype;
  a.converted = rounds<T>(h);
  return a;
}

}  // namespace

template <class T>
BasicArray<T> read_as(const std::string& path) {
  File f;
  const i64 size = open_regular(path, f);
  const Header h = read_header(f.fd, size, path);
  BasicArray<T> a = array_for<T>(h);
  a.data.resize(static_cast<std::size_t>(h.count));  // the file holds exactly count * item_size bytes
  const std::size_t got = read_elements(f.fd, h, 0, a.data.size(), a.data.data(), a, path);
  if (got != static_cast<std::size_t>(h.data_bytes))  // the file shrank while we read it
    fail(path, "truncated while reading: expected " + std::to_string(h.data_bytes) + " bytes of data, read " +
                   std::to_string(got));
  return a;
}

template <class T>
BasicArray<T> read_rows_as(const std::string& path, std::size_t axis, std::int64_t start, std::int64_t count) {
  File f;
  const i64 size = open_regular(path, f);
  const Header h = read_header(f.fd, size, path);
  if (axis >= h.shape.size())
    fail(path, "read_rows: axis " + std::to_string(axis) + " does not exist in shape " + shape_string(h.shape));
  if (start < 0 || count < 0 || start + count > h.shape[axis])
    fail(path, "read_rows: rows [" + std::to_string(start) + ", " + std::to_string(start + count) + ") of axis " +
                   std::to_string(axis) + " are outside shape " + shape_string(h.shape));
  i64 outer = 1, inner = 1;
  for (std::size_t i = 0; i < axis; ++i) outer *= h.shape[i];
  for (std::size_t i = axis + 1; i < h.shape.size(); ++i) inner *= h.shape[i];
  BasicArray<T> a = array_for<T>(h);
  a.shape[axis] = count;
  a.data.resize(static_cast<std::size_t>(outer * count * inner));
  const auto n = static_cast<std::size_t>(count * inner);
  for (i64 o = 0; o < outer; ++o)  // one contiguous run of the file per outer index
    if (read_elements(f.fd, h, (o * h.shape[axis] + start) * inner, n, a.data.data() + o * n, a, path) !=
        n * h.item_size())
      fail(path, "truncated while reading rows " + std::to_string(start) + ".." + std::to_string(start + count));
  return a;
}

template BasicArray<float> read_as(const std::string&);
template BasicArray<attn::f16> read_as(const std::string&);
template BasicArray<attn::bf16> read_as(const std::string&);
template BasicArray<float> read_rows_as(const std::string&, std::size_t, std::int64_t, std::int64_t);
template BasicArray<attn::f16> read_rows_as(const std::string&, std::size_t, std::int64_t, std::int64_t);
template BasicArray<attn::bf16> read_rows_as(const std::string&, std::size_t, std::int64_t, std::int64_t);

std::string encode_header(std::span<const std::int64_t> shape, DType dtype) {
  if (dtype == DType::f8) throw std::invalid_argument("npy::encode_header: only '<f4' and '<f2' are written");
  std::string dict = "{'descr': '<f" + std::to_string(item_size(dtype)) +
                     "', 'fortran_order': False, 'shape': " + shape_string(shape) + ", }";
  // 10 bytes of magic, version and length, then the dict, spaces and '\n' up to a multiple of 64.
  const std::size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  const std::size_t header_len = total - 10;
  if (header_len > 65535)
    throw std::invalid_argument("npy::encode: shape " + shape_string(shape) + " is too long for a 1.0 header");
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::string out;
  out.append(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header_len & 0xff);
  out += static_cast<char>(header_len >> 8);
  out += dict;
  return out;
}

namespace {

template <class T>
std::string encode_as(std::span<const T> data, std::span<const std::int64_t> shape, DType dtype) {
  i64 count = 1;
  for (i64 d : shape)
    if (d < 0 || __builtin_mul_overflow(count, d, &count))
      throw std::invalid_argument("npy::encode: invalid shape " + shape_string(shape));
  if (static_cast<std::uint64_t>(count) != data.size())
    throw std::invalid_argument("npy::encode: shape " + shape_string(shape) + " has " + std::to_string(count) +
                                " elements but the data has " + std::to_string(data.size()));
  std::string out = encode_header(shape, dtype);
  out.append(reinterpret_cast<const char*>(data.data()), data.size_bytes());
  return out;
}

}  // namespace

std::string encode(std::span<const float> data, std::span<const std::int64_t> shape) {
  return encode_as(data, shape, DType::f4);
}

std::string encode(std::span<const attn::f16> data, std::span<const std::int64_t> shape) {
  return encode_as(data, shape, DType::f2);
}

void write(const std::string& path, std::span<const float> data, std::span<const std::int64_t> shape) {
  write_file_atomic(path, encode(data, shape));
}

void write(const std::string& path, std::span<const attn::f16> data, std::span<const std::int64_t> shape) {
  write_file_atomic(path, encode(data, shape));
}

}  // namespace attnlab::npy
