// attnlab run under mpirun: ring attention over the ranks of MPI_COMM_WORLD.
#pragma once

#include <string>

namespace attnlab {

/// What `attnlab run` passes on when started under mpirun with more than one rank.
struct DistributedRun {
  std::string q, k, v, out;
  std::string lse;   ///< "" or the LSE .npy, written like out
  std::string mask;  ///< "" or an additive [Nq, Nk] mask .npy: each rank reads its query rows
  /// How rows are split over the ranks: contiguous, zigzag, or auto (zigzag when causal).
  std::string layout = "auto";
  std::string kernel = "auto";
  std::string causal = "none";
  double scale = 0;
  bool has_scale = false;
  int threads = 0;
  /// Flags the distributed run does not support, as given (each refused by name).
  std::string unsupported;
};

/// True when this process is one of several ranks started by mpirun (Open MPI's
/// OMPI_COMM_WORLD_SIZE > 1) and attnlab was built with MPI.
bool distributed_run_requested();

/// Each rank reads only its own query and key/value rows (and mask rows; offset reads),
/// ring_attention computes them, and every rank writes its rows (pwrite at their offsets) into
/// one temporary .npy, and one for the LSE, that rank 0 renames to `out` (`lse`) once every rank
/// has succeeded. An input error on any rank: every rank throws the same std::invalid_argument
/// (exit status 2) and nothing is written.
void run_distributed(const DistributedRun& run);

}  // namespace attnlab
