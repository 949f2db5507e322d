// attnlab run under mpirun. Every step ends in an agreement (attn::agree_on_error): when any
// rank finds a problem, every rank stops with the same message, so that none waits for a
// collective the others never reach.
#include "run_distributed.hpp"

#include "commands.hpp"
#include "files.hpp"
#include "npy.hpp"
#include "run_args.hpp"
#include "threads.hpp"

#include <attn/ring.hpp>
#include <attn/ring_agreement.hpp>

#include <mpi.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace attnlab {

namespace {

using i64 = std::int64_t;

/// MPI_Init on construction (unless already initialised), MPI_Finalize on scope exit.
class MpiSession {
 public:
  MpiSession() {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) MPI_Init(nullptr, nullptr), owns_ = true;
  }
  ~MpiSession() { finalize(); }
  void finalize() {
    if (owns_) MPI_Finalize();
    owns_ = false;
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  bool owns_ = false;
};

/// Runs `step` on this rank, then agrees: every rank throws the first failing rank's message
/// as an input error (exit status 2).
void agreed(const std::function<void()>& step) {
  std::string error;
  try {
    step();
  } catch (const std::exception& e) {  // npy::Error, attn::Error, usage errors
    error = e.what();
  }
  try {
    attn::agree_on_error(MPI_COMM_WORLD, "run (mpirun)", error);
  } catch (const attn::Error& e) {
    throw std::invalid_argument(e.what());
  }
}

}  // namespace

bool distributed_run_requested() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size && std::atoi(size) > 1;
}

namespace {

void run_ranks(const DistributedRun& run) {
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  const bool talk = rank == 0;

  // 1. Arguments and headers (every rank reads the headers: they are small).
  std::size_t ndim = 0;
  std::array<i64, 4> qs{}, ks{}, vs{};
  attn::RingOptions ro;
  agreed([&] {
    if (!run.unsupported.empty()) throw std::invalid_argument(run.unsupported + ": not supported under mpirun");
    ro.attention.causal = parse_causal_flag(run.causal);
    ro.attention.threads = checked_threads("run", run.threads, talk ? &std::cerr : nullptr);
    ro.attention.kernel = run.kernel;
    if (run.has_scale) ro.attention.scale = static_cast<float>(run.scale);
    check_output_file("--out", run.out, "out.npy");
    const auto header = [](const std::string& flag, const std::string& path) {
      try {
        return npy::inspect(path);
      } catch (const npy::Error& e) {
        throw std::invalid_argument(flag + ": " + e.what());
      }
    };
    const npy::Header hq = header("--q", run.q), hk = header("--k", run.k), hv = header("--v", run.v);
    ndim = hq.shape.size();
    if (hk.shape.size() != ndim || hv.shape.size() != ndim)
      throw std::invalid_argument("--k, --v: expected " + std::to_string(ndim) + " dimensions like --q " +
                                  npy::shape_string(hq.shape));
    qs = npy_as_4d("--q", hq.shape), ks = npy_as_4d("--k", hk.shape), vs = npy_as_4d("--v", hv.shape);
    const auto null_view = [](const std::array<i64, 4>& s) {
      return attn::Tensor{nullptr, s, {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1}};
    };
    attn::validate(null_view(qs), null_view(ks), null_view(vs), null_view({qs[0], qs[1], qs[2], vs[3]}), attn::Tensor{},
                   ro.attention);
  });

  // 2. This rank's rows only: contiguous, even blocks of the queries and of the keys/values.
  const i64 B = qs[0], H = qs[1], Nq = qs[2], d = qs[3], Hkv = ks[1], Nk = ks[2], dv = vs[3];
  const attn::RowRange qr = attn::ring_rows(attn::RingLayout::contiguous, Nq, P, rank)[0];
  const attn::RowRange kr = attn::ring_rows(attn::RingLayout::contiguous, Nk, P, rank)[0];
  const std::size_t axis = ndim - 2;
  npy::Array q, k, v;
  if (talk) std::cerr << "run: " << P << " ranks, each reading its own rows\n";
  agreed([&] {
    const auto rows = [&](const std::string& flag, const std::string& path, attn::RowRange r) {
      npy::Array a;
      try {
        a = npy::read_rows(path, axis, r.start, r.length);
      } catch (const npy::Error& e) {
        throw std::invalid_argument(flag + ": " + e.what());
      }
      for (float x : a.data)
        if (!std::isfinite(x))
          throw std::invalid_argument(flag + " (" + path + "): holds NaN or inf values (rows " +
                                      std::to_string(r.start) + ".." + std::to_string(r.start + r.length) + ")");
      return a;
    };
    q = rows("--q", run.q, qr), k = rows("--k", run.k, kr), v = rows("--v", run.v, kr);
  });

  // 3. The ring.
  std::vector<float> out(static_cast<std::size_t>(B * H * qr.length * dv));
  attn::RingTimes times;
  ro.times = &times;
  if (talk) std::cerr << "run: ring attention over " << P << " ranks\n";
  agreed([&] {
    attn::ring_attention(MPI_COMM_WORLD, attn::ConstTensor::contiguous(q.data.data(), B, H, qr.length, d),
                         attn::ConstTensor::contiguous(k.data.data(), B, Hkv, kr.length, d),
                         attn::ConstTensor::contiguous(v.data.data(), B, Hkv, kr.length, dv),
                         attn::Tensor::contiguous(out.data(), B, H, qr.length, dv), attn::Tensor{}, ro);
  });

  // 4. One .npy: rank 0 writes the header, every rank its rows (MPI-IO), into a temporary file
  // that rank 0 renames only when every rank has written.
  const std::array<i64, 4> out4{B, H, Nq, dv};
  const std::vector<i64> out_shape(out4.begin() + static_cast<std::ptrdiff_t>(4 - ndim), out4.end());
  const std::string header = npy::encode_header(out_shape);
  long long pid = talk ? static_cast<long long>(::getpid()) : 0;
  MPI_Bcast(&pid, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  const std::string tmp = run.out + ".tmp-" + std::to_string(pid);
  MPI_File f = MPI_FILE_NULL;
  const int opened = MPI_File_open(MPI_COMM_WORLD, tmp.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &f);
  int ok = opened == MPI_SUCCESS;
  if (ok && talk)
    ok = MPI_File_write_at(f, 0, header.data(), static_cast<int>(header.size()), MPI_CHAR, MPI_STATUS_IGNORE) ==
         MPI_SUCCESS;
  const auto slice = static_cast<std::size_t>(qr.length * dv);
  for (i64 o = 0; ok && slice > 0 && o < B * H; ++o) {
    const auto at = static_cast<MPI_Offset>(header.size()) + (o * Nq + qr.start) * dv * 4;
    ok = MPI_File_write_at(f, at, out.data() + o * slice, static_cast<int>(slice), MPI_FLOAT, MPI_STATUS_IGNORE) ==
         MPI_SUCCESS;
  }
  if (opened == MPI_SUCCESS) MPI_File_close(&f);
  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  std::string rename_error;
  if (talk) {
    std::error_code ec;
    if (all_ok) std::filesystem::rename(tmp, run.out, ec);
    if (!all_ok || ec) {
      rename_error = all_ok ? "cannot rename " + tmp + " to " + run.out + ": " + ec.message()
                            : "a rank could not write its rows to " + tmp;
      std::filesystem::remove(tmp, ec);
    }
  }
  agreed([&] {
    if (!rename_error.empty()) throw std::runtime_error("--out: " + rename_error);
  });

  if (talk) {
    std::cout << "ranks: " << P << " (mpirun), rows per rank: " << Nq / P << ".." << (Nq + P - 1) / P << "\n"
              << "shape: B=" << B << " H=" << H << " Hkv=" << Hkv << " Nq=" << Nq << " Nk=" << Nk << " d=" << d
              << " dv=" << dv << "\n"
              << "causal: " << attn::to_string(ro.attention.causal) << "\n"
              << "rank 0 time: " << times.total << " s (compute " << times.compute << " s, exposed communication "
              << times.exposed_communication << " s, merge " << times.merge << " s)\n"
              << "out: " << run.out << " " << npy::shape_string(out_shape) << "\n";
  }
}

}  // namespace

void run_distributed(const DistributedRun& run) {
  MpiSession mpi;
  try {
    run_ranks(run);
  } catch (const std::invalid_argument& e) {
    // Every rank prints the agreed message before any exits: mpirun stops the job at the
    // first non-zero exit, which would otherwise cut the other ranks' messages.
    // One write per message: mpirun forwards each rank's stderr in the pieces it was written in.
    const std::string line = std::string("attnlab: error: ") + e.what() + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    MPI_Barrier(MPI_COMM_WORLD);
    mpi.finalize();
    std::exit(kExitUsage);
  }
}

}  // namespace attnlab
