// The complete example from docs/api.md: two heads of self-attention with a
// causal mask, the log-sum-exp output, and an error a bad call produces.
#include <attn/attention.hpp>
#include <attn/kernels.hpp>

#include <cstdio>
#include <vector>

int main() {
  const int heads = 2, n = 5, d = 8;
  std::vector<float> q(heads * n * d), k(q.size()), v(q.size()), out(q.size()), lse(heads * n);
  for (std::size_t i = 0; i < q.size(); ++i) {
    q[i] = static_cast<float>(i % 7) * 0.1f;
    k[i] = static_cast<float>(i % 5) * 0.2f;
    v[i] = static_cast<float>(i % 3);
  }

  attn::Options opts;
  opts.causal = attn::Causal::top_left;  // token i sees tokens 0..i
  attn::attention(attn::view3d(q.data(), heads, n, d), attn::view3d(k.data(), heads, n, d),
                  attn::view3d(v.data(), heads, n, d), attn::view3d(out.data(), heads, n, d),
                  attn::lse_view(lse.data(), 1, heads, n), opts);
  std::printf("out[0][0][:3] = %.4f %.4f %.4f   lse[0][0] = %.4f\n", out[0], out[1], out[2], lse[0]);

  for (const attn::KernelInfo& kernel : attn::kernels())
    std::printf("kernel %-10s %s\n", std::string(kernel.name).c_str(), std::string(kernel.summary).c_str());

  try {  // K with a different head dimension: a clear error, nothing written
    attn::attention(attn::view3d(q.data(), heads, n, d), attn::view3d(k.data(), heads, n, d - 1),
                    attn::view3d(v.data(), heads, n, d), attn::view3d(out.data(), heads, n, d));
    return 1;
  } catch (const attn::Error& e) {
    std::printf("error: %s\n", e.what());
  }
  return 0;
}
