#include "workload/shapes.hpp"

#include <charconv>
#include <stdexcept>

namespace attnlab {

namespace {

using i64 = std::int64_t;

std::string strip(std::string s) {
  std::string r;
  for (char c : s)
    if (c != ' ' && c != '\t') r += c;
  return r;
}

bool take_suffix(std::string& s, const std::string& suffix) {
  if (s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0) {
    s.resize(s.size() - suffix.size());
    return true;
  }
  return false;
}

i64 to_int(const std::string& s, const std::string& whole) {
  i64 v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v <= 0 || v > (i64{1} << 31))
    throw std::invalid_argument("shape '" + whole + "': '" + s + "' is not a positive size");
  return v;
}

[[noreturn]] void unknown(const std::string& text) {
  std::string names;
  for (const auto& n : named_shapes()) names += (names.empty() ? "" : ", ") + n;
  throw std::invalid_argument("shape '" + text + "' is not known; use one of " + names +
                              " (optionally with -causal or -dNN), or Nq x Nk x d [x H]");
}

}  // namespace

attn::Problem Shape::problem(int threads, bool wants_lse) const {
  attn::Problem p;
  p.batch = batch, p.heads = heads, p.kv_heads = kv_heads, p.q_len = q_len, p.kv_len = kv_len;
  p.head_dim = head_dim, p.value_dim = value_dim, p.causal = causal, p.threads = threads;
  p.wants_lse = wants_lse;
  return p;
}

double Shape::io_bytes() const {
  const double per_head_q = static_cast<double>(q_len) * static_cast<double>(head_dim + value_dim);
  const double per_head_kv = static_cast<double>(kv_len) * static_cast<double>(head_dim + value_dim);
  return 4.0 * static_cast<double>(batch) * (heads * per_head_q + kv_heads * per_head_kv);
}

std::vector<std::string> named_shapes() {
  return {"lab-3",      "lab-4",       "bert-128",    "bert-512",     "llm-1024",
          "llm-2048",   "llm-4096",    "llm-8192",    "long-16384",   "long-32768",
          "long-65536", "long-131072", "decode-4096", "decode-32768", "decode-131072"};
}

Shape parse_shape(const std::string& text) {
  std::string s = strip(text);
  Shape r;
  r.name = s;
  if (take_suffix(s, "-causal")) r.causal = attn::Causal::top_left;
  i64 d_override = 0;
  if (auto pos = s.rfind("-d"); pos != std::string::npos && pos + 2 < s.size() && s.find('x') == std::string::npos) {
    d_override = to_int(s.substr(pos + 2), text);
    s.resize(pos);
  }
  if (s.find('x') != std::string::npos) {  // Nq x Nk x d [x H]
    std::vector<i64> dims;
    std::size_t start = 0;
    while (true) {
      const std::size_t x = s.find('x', start);
      dims.push_back(to_int(s.substr(start, x - start), text));
      if (x == std::string::npos) break;
      start = x + 1;
    }
    if (dims.size() < 3 || dims.size() > 4)
      throw std::invalid_argument("shape '" + text + "': expected Nq x Nk x d [x H], got " +
                                  std::to_string(dims.size()) + " numbers");
    r.q_len = dims[0], r.kv_len = dims[1], r.head_dim = r.value_dim = dims[2];
    r.heads = r.kv_heads = dims.size() == 4 ? dims[3] : 1;
    return r;
  }
  const auto dash = s.rfind('-');
  if (dash == std::string::npos) unknown(text);
  const std::string family = s.substr(0, dash);
  const i64 n = to_int(s.substr(dash + 1), text);
  if (family == "lab" && (n == 3 || n == 4))
    r.q_len = r.kv_len = n, r.head_dim = 4;
  else if (family == "bert")
    r.q_len = r.kv_len = n, r.heads = r.kv_heads = 12, r.head_dim = 64;
  else if (family == "llm")
    r.q_len = r.kv_len = n, r.head_dim = 128;
  else if (family == "long")
    r.q_len = r.kv_len = n, r.head_dim = 64;
  else if (family == "decode")
    r.q_len = 1, r.kv_len = n, r.heads = r.kv_heads = 8, r.head_dim = 128;
  else
    unknown(text);
  if (d_override) r.head_dim = d_override;
  r.value_dim = r.head_dim;
  // KV-cache decoding aligns the query with the newest key.
  if (family == "decode" && r.causal != attn::Causal::none) r.causal = attn::Causal::bottom_right;
  return r;
}

std::vector<Shape> parse_shapes(const std::string& list) {
  std::vector<Shape> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = list.find(',', start);
    const std::string item = list.substr(start, comma - start);
    if (!strip(item).empty()) out.push_back(parse_shape(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) throw std::invalid_argument("--shapes: the list is empty");
  return out;
}

void fill_uniform(std::vector<float>& x, std::uint64_t seed, float lo, float hi) {
  // splitmix64: tiny, fast, and the same sequence everywhere.
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (float& e : x) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * 0x1.0p-24f;  // [0, 1) on a 2^-24 grid
    e = lo + (hi - lo) * u;
  }
}

Inputs make_inputs(const Shape& s, std::uint64_t seed) {
  Inputs in;
  in.shape = s;
  in.q.resize(static_cast<std::size_t>(s.batch * s.heads * s.q_len * s.head_dim));
  in.k.resize(static_cast<std::size_t>(s.batch * s.kv_heads * s.kv_len * s.head_dim));
  in.v.resize(static_cast<std::size_t>(s.batch * s.kv_heads * s.kv_len * s.value_dim));
  in.out.assign(static_cast<std::size_t>(s.batch * s.heads * s.q_len * s.value_dim), 0.0f);
  in.lse.assign(static_cast<std::size_t>(s.batch * s.heads * s.q_len), 0.0f);
  fill_uniform(in.q, seed * 3 + 0);
  fill_uniform(in.k, seed * 3 + 1);
  fill_uniform(in.v, seed * 3 + 2);
  return in;
}

attn::ConstTensor Inputs::qv() const {
  return attn::ConstTensor::contiguous(q.data(), shape.batch, shape.heads, shape.q_len, shape.head_dim);
}
attn::ConstTensor Inputs::kv() const {
  return attn::ConstTensor::contiguous(k.data(), shape.batch, shape.kv_heads, shape.kv_len, shape.head_dim);
}
attn::ConstTensor Inputs::vv() const {
  return attn::ConstTensor::contiguous(v.data(), shape.batch, shape.kv_heads, shape.kv_len, shape.value_dim);
}
attn::Tensor Inputs::outv() {
  return attn::Tensor::contiguous(out.data(), shape.batch, shape.heads, shape.q_len, shape.value_dim);
}
attn::Tensor Inputs::lsev() {
  return attn::lse_view(lse.data(), shape.batch, shape.heads, shape.q_len);
}

}  // namespace attnlab
