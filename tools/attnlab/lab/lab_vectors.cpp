#include "lab_vectors.hpp"

#include <attn/dtype.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace attnlab::lab {

namespace {

constexpr std::size_t kHeader = 64;

std::uint32_t u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint64_t u64(const unsigned char* p) {
  return static_cast<std::uint64_t>(u32(p)) | static_cast<std::uint64_t>(u32(p + 4)) << 32;
}

}  // namespace

std::shared_ptr<const VectorFile> VectorFile::open(const std::string& path, const std::string& what) {
  const std::string where = what + " " + path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::invalid_argument(where + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::invalid_argument(where + ": not a regular file");
  }
  std::shared_ptr<VectorFile> f(new VectorFile);
  f->length_ = static_cast<std::size_t>(st.st_size);
  if (f->length_ < kHeader) {
    ::close(fd);
    throw std::invalid_argument(where + ": " + std::to_string(f->length_) + " bytes, too short for the 64-byte header");
  }
  void* m = ::mmap(nullptr, f->length_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw std::invalid_argument(where + ": cannot map: " + std::strerror(errno));
  f->base_ = static_cast<const unsigned char*>(m);
  const unsigned char* h = f->base_;
  auto bad = [&](const std::string& why) { return std::invalid_argument(where + ": " + why); };
  if (std::memcmp(h, "ATTNEMB1", 8) != 0)
    throw bad("not an attnlab vector file (no ATTNEMB1 magic); tools/glove-convert.py writes them");
  if (u32(h + 8) != 1) throw bad("format version " + std::to_string(u32(h + 8)) + ", this attnlab reads version 1");
  const std::uint32_t dim = u32(h + 12), dtype = u32(h + 24);
  const std::uint64_t words = u64(h + 16);
  if (dim < 1 || dim > 4096) throw bad("dimension " + std::to_string(dim) + " is outside 1..4096");
  if (dtype != 2 && dtype != 4)
    throw bad("value type " + std::to_string(dtype) + " is neither 2 (float16) nor 4 (float32)");
  if (words < 1 || words > 0xffffffffu) throw bad("word count " + std::to_string(words) + " is outside 1..2^32-1");
  const std::uint64_t wo = u64(h + 32), wb = u64(h + 40), io = u64(h + 48), vo = u64(h + 56);
  const std::uint64_t len = f->length_;
  auto inside = [&](std::uint64_t off, std::uint64_t size) {
    return off >= kHeader && off <= len && size <= len - off;
  };
  if (!inside(wo, wb)) throw bad("the words block lies outside the file");
  if (words > (len / 4) || !inside(io, words * 4)) throw bad("the index block lies outside the file");
  if (words * dim > len / dtype || !inside(vo, words * dim * dtype))
    throw bad("the vectors block lies outside the file");
  f->dim_ = static_cast<int>(dim);
  f->dtype_ = static_cast<int>(dtype);
  f->words_ = h + wo;
  f->index_ = h + io;
  f->vectors_ = h + vo;
  // Split the words block: exactly `words` non-empty NUL-terminated words.
  f->starts_.reserve(static_cast<std::size_t>(words));
  std::uint64_t at = 0;
  while (at < wb && f->starts_.size() < words) {
    const void* nul = std::memchr(f->words_ + at, 0, static_cast<std::size_t>(wb - at));
    if (!nul) throw bad("the words block ends inside a word");
    const std::uint64_t end = static_cast<const unsigned char*>(nul) - f->words_;
    if (end == at) throw bad("word " + std::to_string(f->starts_.size()) + " is empty");
    f->starts_.push_back(static_cast<std::uint32_t>(at));
    at = end + 1;
  }
  if (f->starts_.size() != words || at != wb)
    throw bad("the words block holds " + std::to_string(f->starts_.size()) + " words, the header says " +
              std::to_string(words));
  // The index: a permutation of the rows in strictly increasing word order (so binary search is right).
  for (std::uint64_t i = 0; i < words; ++i) {
    const std::uint32_t r = u32(f->index_ + 4 * i);
    if (r >= words) throw bad("index entry " + std::to_string(i) + " names row " + std::to_string(r));
    if (i > 0 && !(f->word(u32(f->index_ + 4 * (i - 1))) < f->word(r)))
      throw bad("the index is not in strictly increasing word order at entry " + std::to_string(i));
  }
  return f;
}

VectorFile::~VectorFile() {
  if (base_) ::munmap(const_cast<unsigned char*>(base_), length_);
}

std::string_view VectorFile::word(std::size_t row) const {
  return std::string_view(reinterpret_cast<const char*>(words_ + starts_[row]));
}

std::int64_t VectorFile::find(std::string_view w) const {
  std::size_t lo = 0, hi = size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::uint32_t r = u32(index_ + 4 * mid);
    const std::string_view m = word(r);
    if (m == w) return r;
    if (m < w)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

std::vector<float> VectorFile::vector(std::size_t row) const {
  std::vector<float> v(static_cast<std::size_t>(dim_));
  const unsigned char* p = vectors_ + row * static_cast<std::size_t>(dim_) * static_cast<std::size_t>(dtype_);
  for (int t = 0; t < dim_; ++t) {
    if (dtype_ == 2) {
      v[static_cast<std::size_t>(t)] =
          attn::to_float(attn::f16{static_cast<std::uint16_t>(p[2 * t] | p[2 * t + 1] << 8)});
    } else {
      const std::uint32_t bits = u32(p + 4 * t);
      std::memcpy(&v[static_cast<std::size_t>(t)], &bits, 4);
    }
  }
  return v;
}

int edit_distance(std::string_view a, std::string_view b, int limit) {
  const int la = static_cast<int>(a.size()), lb = static_cast<int>(b.size());
  if (std::abs(la - lb) > limit) return limit + 1;
  std::vector<int> prev(static_cast<std::size_t>(lb) + 1), cur(prev.size());
  for (int j = 0; j <= lb; ++j) prev[static_cast<std::size_t>(j)] = j;
  for (int i = 1; i <= la; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= lb; ++j) {
      const int sub = prev[static_cast<std::size_t>(j) - 1] +
                      (a[static_cast<std::size_t>(i) - 1] != b[static_cast<std::size_t>(j) - 1]);
      cur[static_cast<std::size_t>(j)] =
          std::min({prev[static_cast<std::size_t>(j)] + 1, cur[static_cast<std::size_t>(j) - 1] + 1, sub});
      row_min = std::min(row_min, cur[static_cast<std::size_t>(j)]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return std::min(prev[static_cast<std::size_t>(lb)], limit + 1);
}

std::vector<std::string> nearest_spellings(std::string_view word, std::size_t vocabulary,
                                           const std::function<std::string_view(std::size_t)>& word_at,
                                           std::size_t count) {
  for (const int limit : {2, 3}) {
    std::vector<std::pair<int, std::size_t>> found;  // (distance, row)
    for (std::size_t r = 0; r < vocabulary; ++r) {
      const std::string_view w = word_at(r);
      const int d = edit_distance(word, w, limit);
      // A word replaced outright ("i" -> ",") is no spelling of it.
      if (d <= limit && d < static_cast<int>(std::max(word.size(), w.size()))) found.emplace_back(d, r);
    }
    if (found.empty()) continue;
    std::stable_sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    std::vector<std::string> out;
    for (std::size_t i = 0; i < found.size() && i < count; ++i) out.emplace_back(word_at(found[i].second));
    return out;
  }
  return {};
}

std::string glove_path() {
  if (const char* p = std::getenv("ATTNLAB_GLOVE"); p && *p) return p;
  std::string cache;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    cache = x;
  else if (const char* home = std::getenv("HOME"); home && *home)
    cache = std::string(home) + "/.cache";
  else
    cache = ".cache";
  return cache + "/attnlab/glove-100d.emb";
}

}  // namespace attnlab::lab
