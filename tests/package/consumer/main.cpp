// Links attn::engine from an installed package and checks one known answer:
// with identical keys every weight is 1/Nk, so the output is the mean of V.
#include <attn/attention.hpp>

#include <cstdio>

int main() {
  float q[2] = {1, 2}, k[6] = {1, 1, 1, 1, 1, 1}, v[3] = {1, 2, 6}, out[1] = {0};
  attn::attention(attn::view2d(q, 1, 2), attn::view2d(k, 3, 2), attn::view2d(v, 3, 1), attn::view2d(out, 1, 1));
  std::printf("out = %g\n", out[0]);
  return out[0] == 3.0f ? 0 : 1;
}
