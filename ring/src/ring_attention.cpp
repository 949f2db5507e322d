// ring_attention: the K/V blocks go once around the ring while each rank computes the block
// it holds; partial results are merged in ring order (block of rank r, r−1, r−2, ...), a
// fixed order, so the result is bitwise reproducible.
#include <attn/ring.hpp>

#include <attn/ring_agreement.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

namespace attn {
namespace {

using i64 = std::int64_t;

/// Rows [begin, begin + n) of a [B, H, N, D] view.
template <class T>
TensorView<T> rows_of(TensorView<T> t, i64 begin, i64 n) {
  t.data += begin * t.strides[2];
  t.shape[2] = n;
  return t;
}

/// What every rank must agree on, plus its own lengths (the only per-rank fields).
struct Shape {
  std::array<i64, 11> f{};  // B, H, Hkv, d, dv, causal, layout, has_mask, scale bits, q_len, kv_len
  static constexpr int kShared = 9;
};

const char* const kFieldNames[Shape::kShared] = {
    "batch", "heads", "kv heads", "head dim d", "value dim dv", "causal", "layout", "mask (given or not)", "scale"};

/// Global row ranges of every rank for one sequence (queries or keys), from each rank's length.
std::vector<std::vector<RowRange>> layout_ranges(RingLayout layout, const std::vector<i64>& lengths) {
  const int P = static_cast<int>(lengths.size());
  std::vector<std::vector<RowRange>> out(lengths.size());
  if (layout == RingLayout::contiguous) {
    i64 start = 0;
    for (int r = 0; r < P; ++r) out[r] = {{start, lengths[r]}}, start += lengths[r];
  } else {
    const i64 n = std::accumulate(lengths.begin(), lengths.end(), i64{0});
    for (int r = 0; r < P; ++r) out[r] = ring_rows(layout, n, P, r);
  }
  return out;
}

i64 total_rows(const std::vector<RowRange>& rows) {
  i64 n = 0;
  for (const RowRange r : rows) n += r.length;
  return n;
}

std::string check_local(ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, Tensor lse, const Options& o,
                        i64 global_kv) {
  try {
    Options local = o;
    local.mask = {};
    local.causal = Causal::none;  // the global diagonal is checked below, per block
    local.q_offset = local.kv_offset = 0;
    validate(q, k, v, out, lse, local);
    if (o.q_offset < 0 || o.kv_offset < 0)
      return "options.q_offset and kv_offset must be >= 0, got " + std::to_string(o.q_offset) + " and " +
             std::to_string(o.kv_offset);
    if (o.mask.data) {
      const i64 stride = o.mask.row_stride ? o.mask.row_stride : o.mask.cols;
      if (o.mask.rows != q.rows() || o.mask.cols != global_kv)
        return "options.mask must be [local Nq = " + std::to_string(q.rows()) +
               ", global Nk = " + std::to_string(global_kv) + "], got [" + std::to_string(o.mask.rows) + ", " +
               std::to_string(o.mask.cols) + "]";
      if (stride < o.mask.cols)
        return "options.mask.row_stride must be >= cols (" + std::to_string(o.mask.cols) + "), got " +
               std::to_string(stride);
    }
    // One block travels as B·Hkv·Nk rows of d + dv floats (an MPI count is an int).
    if (k.batch() * k.heads() * k.rows() > INT_MAX)
      return "k holds more than INT_MAX rows of B·Hkv·Nk; split the sequence over more ranks";
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

/// attention() of query rows `q` against one block, in pieces of query rows (up to kPieces of
/// at least kMinPieceRows: the pieces depend on the shape only) with MPI_Testall on the ring's
/// messages after each when `poll` is set: transports that move a large message only inside MPI
/// calls (Open MPI's shared-memory copy pipeline, TCP) then carry the next block while this one
/// is computed. A row's result does not depend on the rows computed with it.
void compute_in_pieces(ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, Tensor lse, const Options& call,
                       bool poll, std::array<MPI_Request, 2>& req) {
  constexpr i64 kPieces = 8, kMinPieceRows = 256;
  const i64 rows = q.rows();
  const i64 pieces = std::clamp<i64>(rows / kMinPieceRows, 1, kPieces);
  const i64 mask_stride = call.mask.row_stride ? call.mask.row_stride : call.mask.cols;
  for (i64 p = 0; p < pieces; ++p) {
    const i64 begin = p * rows / pieces, n = (p + 1) * rows / pieces - begin;
    Options piece = call;
    if (call.causal != Causal::none) piece.q_offset += begin;  // global positions
    if (call.mask.data) piece.mask = Mask{call.mask.data + begin * mask_stride, n, call.mask.cols, mask_stride};
    attention(rows_of(q, begin, n), k, v, rows_of(out, begin, n), rows_of(lse, begin, n), piece);
    if (poll) {
      int done = 0;
      MPI_Testall(2, req.data(), &done, MPI_STATUSES_IGNORE);
    }
  }
}

class Stopwatch {
 public:
  double lap() {
    const double now = MPI_Wtime(), d = now - last_;
    last_ = now;
    return d;
  }

 private:
  double last_ = MPI_Wtime();
};

}  // namespace

void ring_attention(MPI_Comm comm, ConstTensor q, ConstTensor k, ConstTensor v, Tensor out, Tensor lse,
                    const RingOptions& options) {
  const double t_start = MPI_Wtime();
  const Options& o = options.attention;
  int rank = 0, P = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);

  // Every rank's shape, then its own checks, then one agreement: all throw or none does.
  Shape mine;
  std::uint32_t scale_bits = 0;
  if (o.scale) std::memcpy(&scale_bits, &*o.scale, sizeof scale_bits);
  mine.f = {q.batch(),
            q.heads(),
            k.heads(),
            q.cols(),
            v.cols(),
            static_cast<i64>(o.causal),
            static_cast<i64>(options.layout),
            o.mask.data ? 1 : 0,
            o.scale ? static_cast<i64>(scale_bits) : -1,
            q.rows(),
            k.rows()};
  std::vector<Shape> all(static_cast<std::size_t>(P));
  MPI_Allgather(mine.f.data(), static_cast<int>(mine.f.size()), MPI_INT64_T, all.data(),
                static_cast<int>(mine.f.size()), MPI_INT64_T, comm);
  std::vector<i64> q_lengths(P), kv_lengths(P);
  for (int r = 0; r < P; ++r) q_lengths[r] = all[r].f[9], kv_lengths[r] = all[r].f[10];
  const i64 global_kv = std::accumulate(kv_lengths.begin(), kv_lengths.end(), i64{0});
  const i64 global_q = std::accumulate(q_lengths.begin(), q_lengths.end(), i64{0});

  std::string error = check_local(q, k, v, out, lse, o, global_kv);
  for (int i = 0; i < Shape::kShared && error.empty(); ++i)
    if (mine.f[i] != all[0].f[i])
      error = std::string(kFieldNames[i]) + " differs from rank 0's (" + std::to_string(mine.f[i]) + " vs " +
              std::to_string(all[0].f[i]) + ")";
  if (error.empty() && options.layout == RingLayout::zigzag) {
    const i64 want_q = total_rows(ring_rows(options.layout, global_q, P, rank));
    const i64 want_kv = total_rows(ring_rows(options.layout, global_kv, P, rank));
    if (q.rows() != want_q || k.rows() != want_kv)
      error = "zigzag layout: this rank must hold " + std::to_string(want_q) + " query rows and " +
              std::to_string(want_kv) + " key rows (ring_rows), got " + std::to_string(q.rows()) + " and " +
              std::to_string(k.rows());
  }
  agree_on_error(comm, "ring_attention", error);

  const auto q_ranges = layout_ranges(options.layout, q_lengths);
  const auto kv_ranges = layout_ranges(options.layout, kv_lengths);
  const i64 B = q.batch(), H = q.heads(), Hkv = k.heads(), d = q.cols(), dv = v.cols();

  // The running LSE: the caller's, or our own when the caller does not want it.
  std::vector<float> own_lse;
  if (!lse.data) {
    own_lse.assign(static_cast<std::size_t>(B * H * q.rows()), 0.0f);
    lse = lse_view(own_lse.data(), B, H, q.rows());
  }

  // Double buffers: [B, Hkv, n, d] keys then [B, Hkv, n, dv] values of the block at hand.
  const i64 max_kv = *std::max_element(kv_lengths.begin(), kv_lengths.end());
  std::array<std::vector<float>, 2> buf;
  for (auto& b : buf) b.resize(static_cast<std::size_t>(B * Hkv * max_kv * (d + dv)));
  RingTimes times;
  Stopwatch watch;
  {
    const i64 n = k.rows();
    gather_rows(k, std::vector<RowRange>{{0, n}}, Tensor::contiguous(buf[0].data(), B, Hkv, n, d));
    gather_rows(v, std::vector<RowRange>{{0, n}}, Tensor::contiguous(buf[0].data() + B * Hkv * n * d, B, Hkv, n, dv));
  }
  times.merge += watch.lap();

  MPI_Datatype row_type;
  MPI_Type_contiguous(static_cast<int>(d + dv), MPI_FLOAT, &row_type);
  MPI_Type_commit(&row_type);
  MPI_Comm ring;
  MPI_Comm_dup(comm, &ring);  // our messages never meet the caller's
  const int right = (rank + 1) % P, left = (rank + P - 1) % P;

  // Positions as attention() sees them: bottom_right becomes top_left shifted by the global
  // Nk − Nq; `base` keeps every offset >= 0 (only differences matter).
  const i64 shift = o.causal == Causal::bottom_right ? global_kv - global_q : 0;
  const i64 base = std::max<i64>(0, -shift);
  const i64 mask_stride = o.mask.row_stride ? o.mask.row_stride : o.mask.cols;

  const std::vector<RowRange>& my_q = q_ranges[rank];
  std::vector<char> have(my_q.size(), 0);
  std::vector<float> part_out, part_lse;
  for (int step = 0; step < P; ++step) {
    const int src = (rank - step + P) % P, next_src = (rank - step - 1 + 2 * P) % P;
    float* cur = buf[step % 2].data();
    std::array<MPI_Request, 2> req{MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    if (step + 1 < P) {
      MPI_Irecv(buf[(step + 1) % 2].data(), static_cast<int>(B * Hkv * kv_lengths[next_src]), row_type, left, 0, ring,
                &req[0]);
      MPI_Isend(cur, static_cast<int>(B * Hkv * kv_lengths[src]), row_type, right, 0, ring, &req[1]);
    }
    const i64 n = kv_lengths[src];
    const ConstTensor kb = ConstTensor::contiguous(cur, B, Hkv, n, d);
    const ConstTensor vb = ConstTensor::contiguous(cur + B * Hkv * n * d, B, Hkv, n, dv);
    i64 lq = 0;
    for (std::size_t qi = 0; qi < my_q.size(); lq += my_q[qi].length, ++qi) {
      const RowRange qr = my_q[qi];
      i64 lk = 0;
      for (const RowRange kr : kv_ranges[src]) {
        const i64 this_lk = lk;
        lk += kr.length;
        if (qr.length == 0 || kr.length == 0) continue;
        Options call = o;
        if (o.causal != Causal::none) {
          call.causal = Causal::top_left;
          call.q_offset = base + o.q_offset + qr.start + shift;
          call.kv_offset = base + o.kv_offset + kr.start;
          // Above the diagonal: not even the last query row sees the first key.
          if (call.kv_offset > call.q_offset + qr.length - 1) {
            ++times.blocks_skipped;
            continue;
          }
        }
        if (o.mask.data) call.mask = Mask{o.mask.data + lq * mask_stride + kr.start, qr.length, kr.length, mask_stride};
        const Tensor o_seg = rows_of(out, lq, qr.length), l_seg = rows_of(lse, lq, qr.length);
        const ConstTensor k_seg = rows_of(kb, this_lk, kr.length), v_seg = rows_of(vb, this_lk, kr.length);
        watch.lap();
        if (!have[qi]) {
          compute_in_pieces(rows_of(q, lq, qr.length), k_seg, v_seg, o_seg, l_seg, call, options.poll_progress, req);
          times.compute += watch.lap();
          have[qi] = 1;
        } else {
          part_out.resize(static_cast<std::size_t>(B * H * qr.length * dv));
          part_lse.resize(static_cast<std::size_t>(B * H * qr.length));
          const Tensor po = Tensor::contiguous(part_out.data(), B, H, qr.length, dv);
          const Tensor pl = lse_view(part_lse.data(), B, H, qr.length);
          compute_in_pieces(rows_of(q, lq, qr.length), k_seg, v_seg, po, pl, call, options.poll_progress, req);
          times.compute += watch.lap();
          const std::array<ConstTensor, 2> outs{o_seg, po}, lses{l_seg, pl};
          merge_partials(outs, lses, o_seg, l_seg);
          times.merge += watch.lap();
        }
        ++times.blocks_computed;
      }
    }
    watch.lap();
    MPI_Waitall(2, req.data(), MPI_STATUSES_IGNORE);
    times.exposed_communication += watch.lap();
  }
  // Query ranges that saw no key at all: out = 0, lse = -inf, as attention() writes them.
  i64 lq = 0;
  for (std::size_t qi = 0; qi < my_q.size(); lq += my_q[qi].length, ++qi)
    if (!have[qi] && my_q[qi].length > 0)
      merge_partials({}, {}, rows_of(out, lq, my_q[qi].length), rows_of(lse, lq, my_q[qi].length));
  times.merge += watch.lap();
  MPI_Comm_free(&ring);
  MPI_Type_free(&row_type);
  times.total = MPI_Wtime() - t_start;
  if (options.times) *options.times = times;
}

}  // namespace attn
