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

}  // namespace attnlab
