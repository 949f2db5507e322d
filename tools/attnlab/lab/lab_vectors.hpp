// Word vectors in a compact file that is memory-mapped, not read: the GloVe
// vocabulary (341k words x 100 numbers) opens in milliseconds and only the rows
// a sentence needs are touched. Written by tools/glove-convert.py.
//
// Format (little-endian), a 64-byte header then three blocks:
//   0  "ATTNEMB1"            8  u32 version (1)     12 u32 dim
//   16 u64 words             24 u32 dtype: 2 = IEEE binary16, 4 = binary32
//   28 u32 reserved (0)      32 u64 words_offset    40 u64 words_bytes
//   48 u64 index_offset      56 u64 vectors_offset
// words block: `words` NUL-terminated UTF-8 words, lower case, most frequent first (row order);
// index block: `words` u32 row numbers sorted by their words' bytes (binary search);
// vectors block: words x dim values, row-major.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::lab {

class VectorFile {
 public:
  /// Maps and checks `path` (every offset and size inside the file, the words and the
  /// index consistent); throws std::invalid_argument naming `what`, the path and the problem.
  static std::shared_ptr<const VectorFile> open(const std::string& path, const std::string& what);
  ~VectorFile();
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  int dim() const { return dim_; }
  std::size_t size() const { return starts_.size(); }
  int bytes_per_value() const { return dtype_; }
  std::string_view word(std::size_t row) const;
  /// The row of `word` (exact bytes), or -1.
  std::int64_t find(std::string_view word) const;
  std::vector<float> vector(std::size_t row) const;

 private:
  VectorFile() = default;
  const unsigned char* base_ = nullptr;
  std::size_t length_ = 0;
  int dim_ = 0, dtype_ = 0;
  const unsigned char* words_ = nullptr;
  const unsigned char* index_ = nullptr;
  const unsigned char* vectors_ = nullptr;
  std::vector<std::uint32_t> starts_;  ///< offset of each row's word in the words block
};

/// Levenshtein distance, or limit + 1 as soon as it must exceed `limit`.
int edit_distance(std::string_view a, std::string_view b, int limit);

/// Up to `count` words of the vocabulary closest to `word` in spelling (edit distance at most
/// 2, or 3 when nothing is that close, and less than the longer word's length: "," is no spelling
/// of "i"), nearest first, then in row order (the more frequent first).
std::vector<std::string> nearest_spellings(std::string_view word, std::size_t vocabulary,
                                           const std::function<std::string_view(std::size_t)>& word_at,
                                           std::size_t count = 5);

/// Where `--embeddings glove` looks: $ATTNLAB_GLOVE, else ${XDG_CACHE_HOME:-$HOME/.cache}/attnlab/glove-100d.emb.
std::string glove_path();

}  // namespace attnlab::lab
