// Ring attention over MPI: one attention call whose queries and keys/values are spread over
// the ranks of a communicator. Each rank holds a block of query rows and a block of key/value
// rows; the key/value blocks travel once around the ring (non-blocking sends and receives into
// double buffers, overlapped with computing the block at hand) and each rank merges its partial
// (O, LSE) pairs with attn::merge_partials in a fixed order. The engine (attn::engine) knows
// nothing of MPI: this library is the only part that does. Guide: docs/distributed.md.
#pragma once

#include <attn/attention.hpp>
#include <attn/merge.hpp>

#include <mpi.h>

#include <cstdint>
#include <span>
#include <vector>

namespace attn {

/// Rows [start, start + length) of the global sequence.
struct RowRange {
  std::int64_t start = 0, length = 0;
};

/// How the global sequence's rows are assigned to the ranks (the same rule for queries and for
/// keys/values, each with its own global length).
enum class RingLayout {
  /// Rank r holds one contiguous block; blocks follow rank order and may have any length
  /// (0 included): a rank's global start is the sum of the lengths of the ranks before it.
  contiguous,
  /// Causal load balance: the sequence of N rows is cut into 2P chunks (chunk c = rows
  /// [c·N/(2P), (c+1)·N/(2P))) and rank r holds chunks r and 2P−1−r, in that order, so every
  /// rank has the same share of the causal triangle. Each rank's local length must be its two
  /// chunks' (zigzag_rows); N is the sum of the local lengths.
  zigzag,
};

/// Rows of rank `rank` of `ranks` for a sequence of `n` rows, in local order: the even split
/// [r·n/P, (r+1)·n/P) for contiguous (one range; any other split is allowed too), chunks r and
/// 2P−1−r for zigzag (two ranges). Throws attn::Error for ranks < 1, rank outside [0, ranks),
/// n < 0.
std::vector<RowRange> ring_rows(RingLayout layout, std::int64_t n, int ranks, int rank);

/// Copies rows `rows` (in order) of a global [B, H, N, D] view into the local view
/// [B, H, Σ length, D]: a rank's share of a whole tensor.
void gather_rows(ConstTensor global, std::span<const RowRange> rows, Tensor local);
/// The reverse: writes a rank's local rows back to their places in the global view.
void scatter_rows(ConstTensor local, std::span<const RowRange> rows, Tensor global);

/// Where one rank's time went in a ring_attention call (seconds of wall time on this rank).
struct RingTimes {
  double compute = 0;                           ///< attention() on blocks
  double exposed_communication = 0;             ///< waiting for the next block after computing the current one
  double merge = 0;                             ///< merge_partials and packing this rank's keys/values
  double total = 0;                             ///< the whole call, validation and agreement included
  int blocks_computed = 0, blocks_skipped = 0;  ///< (query range, key range) pairs; causal skips
};

struct RingOptions {
  /// As attention(): scale, causal (on global positions), threads per rank, kernel, memory
  /// budget. q_offset / kv_offset are added to every global position. mask: this rank's query
  /// rows × the GLOBAL keys (rows = local Nq, cols = global Nk, indexed by global key position).
  Options attention;
  RingLayout layout = RingLayout::contiguous;
  /// Call MPI_Testall between pieces of a block's computation (its query rows, in up to 8
  /// pieces of at least 256 rows), so that transports that move data only inside MPI calls
  /// carry the next block during the compute. false: only the wait at the end of each step
  /// (for measuring the overlap; the result is the same bits either way).
  bool poll_progress = true;
  /// Filled on return when not null.
  RingTimes* times = nullptr;
};

/// Collective over `comm`: every rank calls it with its own local blocks
///   q [B, H, Nq_r, d]   k [B, Hkv, Nk_r, d]   v [B, Hkv, Nk_r, dv]   out [B, H, Nq_r, dv]
///   lse [B, H, Nq_r, 1] (optional: an empty view)
/// and receives attention of its query rows over all ranks' keys. B, H, Hkv, d, dv and the
/// options must agree across ranks. For a fixed communicator size and layout the result is
/// bitwise identical run to run and for any thread count per rank.
/// Errors: every rank checks its own arguments and the ranks' agreement; when any rank finds a
/// problem, every rank throws the same attn::Error (naming the first failing rank and the
/// argument), and no rank is left waiting.
void ring_attention(MPI_Comm comm, ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, Tensor lse,
                    const RingOptions& options = {});

}  // namespace attn
