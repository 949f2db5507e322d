// Links attn::ring from an installed package and checks one known answer under mpirun:
// rank r holds one key (the same on every rank) and the value r + 1, so every query's
// weights are 1/P and its output is the mean of 1..P.
#include <attn/ring.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  float q[2] = {1, 2}, k[2] = {1, 1}, v[1] = {static_cast<float>(rank + 1)}, out[1] = {0};
  attn::ring_attention(MPI_COMM_WORLD, attn::view2d(q, 1, 2), attn::view2d(k, 1, 2), attn::view2d(v, 1, 1),
                       attn::view2d(out, 1, 1), attn::Tensor{});
  const float want = static_cast<float>(P + 1) / 2;
  std::printf("rank %d of %d: out = %g (want %g)\n", rank, P, out[0], want);
  const int ok = std::abs(out[0] - want) <= 1e-6f * want;
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Finalize();
  return all ? 0 : 1;
}
