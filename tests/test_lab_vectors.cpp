// The memory-mapped word-vector file behind `lab --embeddings glove`: written
// here byte by byte in the documented format, then found, read, and refused
// when damaged; and the spelling suggestions for a word it does not have.
#include "lab_model.hpp"
#include "lab_vectors.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using attnlab::lab::VectorFile;

void put32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int b = 0; b < 4; ++b) s[at + b] = static_cast<char>(v >> (8 * b));
}
void put64(std::string& s, std::size_t at, std::uint64_t v) {
  put32(s, at, static_cast<std::uint32_t>(v));
  put32(s, at + 4, static_cast<std::uint32_t>(v >> 32));
}

/// A float32 file of `words` (row order), vector r = (r + 0.5, -r, r / 4).
std::string make_file(const std::vector<std::string>& words) {
  std::string blob;
  for (const auto& w : words) blob += w + '\0';
  std::vector<std::uint32_t> order(words.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return words[a] < words[b]; });
  const std::size_t wo = 64, io = (wo + blob.size() + 3) / 4 * 4, vo = (io + 4 * words.size() + 63) / 64 * 64;
  std::string f(vo + words.size() * 3 * 4, '\0');
  std::memcpy(f.data(), "ATTNEMB1", 8);
  put32(f, 8, 1);
  put32(f, 12, 3);
  put64(f, 16, words.size());
  put32(f, 24, 4);
  put64(f, 32, wo);
  put64(f, 40, blob.size());
  put64(f, 48, io);
  put64(f, 56, vo);
  std::memcpy(f.data() + wo, blob.data(), blob.size());
  for (std::size_t i = 0; i < order.size(); ++i) put32(f, io + 4 * i, order[i]);
  for (std::size_t r = 0; r < words.size(); ++r) {
    const float v[3] = {r + 0.5f, -static_cast<float>(r), r / 4.0f};
    std::memcpy(f.data() + vo + r * 12, v, 12);
  }
  return f;
}

std::string write(const std::string& name, const std::string& content) {
  const auto path = std::filesystem::temp_directory_path() / ("attnlab_test_lab_vectors_" + name + ".emb");
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

const std::vector<std::string> kWords{"the", "cat", "sat", "on", "mat", "caf\xc3\xa9", "attention"};

TEST(LabVectors, FindsEveryWordAndReadsItsRow) {
  const auto f = VectorFile::open(write("good", make_file(kWords)), "--embeddings");
  EXPECT_EQ(f->dim(), 3);
  ASSERT_EQ(f->size(), kWords.size());
  for (std::size_t r = 0; r < kWords.size(); ++r) {
    EXPECT_EQ(f->word(r), kWords[r]);
    ASSERT_EQ(f->find(kWords[r]), static_cast<std::int64_t>(r)) << kWords[r];
    EXPECT_EQ(f->vector(r), (std::vector<float>{r + 0.5f, -static_cast<float>(r), r / 4.0f}));
  }
  for (const char* absent : {"", "a", "zzz", "ca", "cats", "The"}) EXPECT_EQ(f->find(absent), -1) << absent;
}

TEST(LabVectors, DamagedFilesAreRefusedWithTheReason) {
  const std::string good = make_file(kWords);
  auto refused = [&](std::string bytes, const std::string& why) {
    try {
      VectorFile::open(write("bad", bytes), "--embeddings x.emb");
      ADD_FAILURE() << "accepted, expected: " << why;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--embeddings x.emb"), std::string::npos) << e.what();
    }
  };
  refused(good.substr(0, 40), "too short for the 64-byte header");
  refused(good.substr(0, good.size() - 1), "the vectors block lies outside the file");
  std::string b = good;
  b[0] = 'X';
  refused(b, "no ATTNEMB1 magic");
  b = good;
  put32(b, 24, 3);
  refused(b, "neither 2 (float16) nor 4 (float32)");
  b = good;
  put64(b, 48, 1ull << 40);
  refused(b, "the index block lies outside the file");
  b = good;
  put64(b, 16, 8);  // one word more than the block holds
  refused(b, "outside the file");
  b = good;
  put64(b, 40, 20);  // the words block cut inside a word
  refused(b, "ends inside a word");
  b = good;
  std::size_t blob = 0;
  for (const auto& w : kWords) blob += w.size() + 1;
  const std::size_t io = (64 + blob + 3) / 4 * 4;  // where make_file puts the index
  put32(b, io, 6);
  put32(b, io + 4, 6);  // a row twice: not strictly increasing
  refused(b, "strictly increasing");
  b = good;
  put32(b, io, 99);
  refused(b, "names row 99");
}

TEST(LabVectors, NearestSpellingsByEditDistanceThenFrequency) {
  EXPECT_EQ(attnlab::lab::edit_distance("kitten", "sitting", 5), 3);
  EXPECT_EQ(attnlab::lab::edit_distance("kitten", "sitting", 2), 3) << "stops past the limit";
  EXPECT_EQ(attnlab::lab::edit_distance("", "abc", 5), 3);
  EXPECT_EQ(attnlab::lab::edit_distance("flaw", "lawn", 5), 2);
  auto at = [](std::size_t r) { return std::string_view(kWords[r]); };
  // "kat": cat, sat, mat at distance 1 (in row order), "the"/"on" farther.
  EXPECT_EQ(attnlab::lab::nearest_spellings("kat", kWords.size(), at, 3),
            (std::vector<std::string>{"cat", "sat", "mat"}));
  EXPECT_EQ(attnlab::lab::nearest_spellings("atention", kWords.size(), at), (std::vector<std::string>{"attention"}));
  EXPECT_TRUE(attnlab::lab::nearest_spellings("xylophone", kWords.size(), at).empty());
  // Through the lab: the error names the word, the file and the suggestions.
  attnlab::lab::Config c;
  c.embeddings_file = write("lab", make_file(kWords));
  try {
    attnlab::lab::run_lab({"The kat sat"}, c);
    ADD_FAILURE() << "an unknown word was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no vector for the word 'kat'; the nearest spellings it has: cat, sat, mat"),
              std::string::npos)
        << e.what();
  }
  c.embeddings_file = write("lab2", make_file(kWords));
  const auto s = attnlab::lab::run_lab({"The cat"}, c);
  EXPECT_EQ(c.dim, 3);
  EXPECT_EQ(s[0].x.at(1, 0), 1.5f);
}

}  // namespace
