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

#include <fcntl.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
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

/// Writes `text` to stderr in one write: mpirun forwards each rank's stderr in the pieces it
/// was written in, so a line written in pieces (operator<< per part) can have another rank's
/// line spliced into it.
void say(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

bool distributed_run_requested() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  return size && std::atoi(size) > 1;
}

namespace {

/// Rows `rows` (in order) of axis `axis` of `path`, one offset read per range and outer index:
/// the array holds them consecutively along `axis`. Refuses NaN and inf (and +inf in a mask,
/// where -inf masks a key).
npy::Array read_ranges(const std::string& flag, const std::string& path, std::size_t axis,
                       const std::vector<attn::RowRange>& rows, bool minus_inf_ok) {
  std::vector<npy::Array> parts;
  for (const attn::RowRange r : rows) {
    try {
      parts.push_back(npy::read_rows(path, axis, r.start, r.length));
    } catch (const npy::Error& e) {
      throw std::invalid_argument(flag + ": " + e.what());
    }
    for (float x : parts.back().data)
      if (std::isnan(x) || (std::isinf(x) && !(minus_inf_ok && x < 0)))
        throw std::invalid_argument(flag + " (" + path + "): holds NaN or " + (minus_inf_ok ? "+inf" : "inf") +
                                    " values (rows " + std::to_string(r.start) + ".." +
                                    std::to_string(r.start + r.length) + ")");
  }
  if (parts.size() == 1) return std::move(parts[0]);
  npy::Array a = parts.at(0);
  i64 outer = 1, inner = 1, total = 0;
  for (std::size_t i = 0; i < axis; ++i) outer *= a.shape[i];
  for (std::size_t i = axis + 1; i < a.shape.size(); ++i) inner *= a.shape[i];
  for (const npy::Array& p : parts) total += p.shape[axis];
  a.shape[axis] = total;
  a.data.resize(static_cast<std::size_t>(outer * total * inner));
  for (i64 o = 0, at = 0; o < outer; ++o)
    for (const npy::Array& p : parts) {
      const i64 n = p.shape[axis] * inner;
      std::copy_n(p.data.begin() + o * n, n, a.data.begin() + at);
      at += n;
    }
  return a;
}

/// pwrite of all `bytes` at `at` (a large write may be split); false on an error.
bool pwrite_all(int fd, const char* p, std::size_t bytes, off_t at) {
  while (bytes > 0) {
    const ssize_t w = ::pwrite(fd, p, bytes, at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w, bytes -= static_cast<std::size_t>(w), at += w;
  }
  return true;
}

/// Writes this rank's rows of a [outer, N, cols] float32 .npy into `path`; `local` holds them as
/// [outer, Σ lengths, cols]. Rank 0 creates the file at its full size with the header, then
/// every rank writes its rows at their offsets (ordered writes to disjoint byte ranges: plain
/// POSIX I/O, which leaves no helper file beside the output, unlike MPI-IO's shared-file-pointer
/// probes). Collective; true when this rank's writes succeeded.
bool write_rows(const std::string& path, const std::string& header, const std::vector<float>& local, i64 outer, i64 n,
                i64 cols, const std::vector<attn::RowRange>& rows, bool talk) {
  int created = 1;
  if (talk) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const auto size = static_cast<off_t>(header.size()) + static_cast<off_t>(outer * n * cols) * 4;
    created = fd >= 0 && pwrite_all(fd, header.data(), header.size(), 0) && ::ftruncate(fd, size) == 0;
    if (fd >= 0) created = ::close(fd) == 0 && created;
  }
  MPI_Bcast(&created, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!created) return false;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  bool ok = fd >= 0;
  i64 mine = 0;
  for (const attn::RowRange r : rows) mine += r.length;
  for (i64 o = 0; ok && o < outer; ++o) {
    i64 l = 0;
    for (const attn::RowRange r : rows) {
      const auto at = static_cast<off_t>(header.size()) + static_cast<off_t>((o * n + r.start) * cols) * 4;
      const float* from = local.data() + (o * mine + l) * cols;
      l += r.length;
      if (ok && r.length > 0)
        ok = pwrite_all(fd, reinterpret_cast<const char*>(from), static_cast<std::size_t>(r.length * cols) * 4, at);
    }
  }
  if (fd >= 0) ok = ::close(fd) == 0 && ok;
  return ok;
}

/// While the temporary outputs exist: a SIGTERM removes them before the process ends. When a
/// rank dies, mpirun sends SIGTERM to every other rank (then SIGKILL), so whichever rank gets
/// it removes the files and nothing of a failed job is left (unlink and raise are
/// async-signal-safe; the paths are copied beforehand).
class TempFilesRemovedOnSigterm {
 public:
  explicit TempFilesRemovedOnSigterm(const std::vector<std::pair<std::string, std::string>>& files) {
    int n = 0;
    for (const auto& file : files)
      if (n < kMaxFiles && file.first.size() < sizeof paths_[0])
        std::snprintf(paths_[n++], sizeof paths_[0], "%s", file.first.c_str());
    count_ = n;
    struct sigaction sa {};
    sa.sa_handler = &remove_and_die;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &previous_);
  }
  ~TempFilesRemovedOnSigterm() {
    sigaction(SIGTERM, &previous_, nullptr);
    count_ = 0;
  }
  TempFilesRemovedOnSigterm(const TempFilesRemovedOnSigterm&) = delete;
  TempFilesRemovedOnSigterm& operator=(const TempFilesRemovedOnSigterm&) = delete;

 private:
  static constexpr int kMaxFiles = 2;
  static void remove_and_die(int sig) {
    for (int i = 0; i < count_; ++i) ::unlink(paths_[i]);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
  static inline char paths_[kMaxFiles][4096];
  static inline volatile std::sig_atomic_t count_ = 0;
  struct sigaction previous_ {};
};

attn::RingLayout parse_layout(const std::string& s, attn::Causal causal) {
  if (s == "contiguous") return attn::RingLayout::contiguous;
  if (s == "zigzag") return attn::RingLayout::zigzag;
  if (s == "auto") return causal == attn::Causal::none ? attn::RingLayout::contiguous : attn::RingLayout::zigzag;
  throw std::invalid_argument("--layout: expected auto, contiguous or zigzag, got '" + s + "'");
}

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
    ro.layout = parse_layout(run.layout, ro.attention.causal);
    std::ostringstream notes;
    ro.attention.threads = checked_threads("run", run.threads, talk ? &notes : nullptr);
    say(notes.str());
    ro.attention.kernel = run.kernel;
    if (run.has_scale) ro.attention.scale = static_cast<float>(run.scale);
    check_output_file("--out", run.out, "out.npy");
    if (!run.lse.empty()) {
      check_output_file("--lse", run.lse, "lse.npy");
      if (std::filesystem::absolute(run.lse) == std::filesystem::absolute(run.out))
        throw std::invalid_argument("--lse: '" + run.lse + "' is the same file as --out");
    }
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
    if (!run.mask.empty()) {
      const npy::Header hm = header("--mask", run.mask);
      if (hm.shape.size() != 2 || hm.shape[0] != qs[2] || hm.shape[1] != ks[2])
        throw std::invalid_argument("--mask (" + run.mask + "): shape " + npy::shape_string(hm.shape) +
                                    ", expected [Nq, Nk] = (" + std::to_string(qs[2]) + ", " + std::to_string(ks[2]) +
                                    ")");
    }
    const auto null_view = [](const std::array<i64, 4>& s) {
      return attn::Tensor{nullptr, s, {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1}};
    };
    attn::validate(null_view(qs), null_view(ks), null_view(vs), null_view({qs[0], qs[1], qs[2], vs[3]}), attn::Tensor{},
                   ro.attention);
  });

  // 2. This rank's rows only (ring_rows: even contiguous blocks, or zig-zag chunks r and 2P−1−r).
  const i64 B = qs[0], H = qs[1], Nq = qs[2], d = qs[3], Hkv = ks[1], Nk = ks[2], dv = vs[3];
  const std::vector<attn::RowRange> qr = attn::ring_rows(ro.layout, Nq, P, rank);
  const std::vector<attn::RowRange> kr = attn::ring_rows(ro.layout, Nk, P, rank);
  i64 nq = 0, nk = 0;
  for (const attn::RowRange r : qr) nq += r.length;
  for (const attn::RowRange r : kr) nk += r.length;
  const std::size_t axis = ndim - 2;
  npy::Array q, k, v, mask;
  if (talk) say("run: " + std::to_string(P) + " ranks, each reading its own rows\n");
  agreed([&] {
    q = read_ranges("--q", run.q, axis, qr, false);
    k = read_ranges("--k", run.k, axis, kr, false);
    v = read_ranges("--v", run.v, axis, kr, false);
    if (!run.mask.empty()) mask = read_ranges("--mask", run.mask, 0, qr, true);
  });

  // 3. The ring.
  std::vector<float> out(static_cast<std::size_t>(B * H * nq * dv)), lse;
  if (!run.lse.empty()) lse.resize(static_cast<std::size_t>(B * H * nq));
  if (!run.mask.empty()) ro.attention.mask = attn::Mask{mask.data.data(), nq, Nk, 0};
  attn::RingTimes times;
  ro.times = &times;
  if (talk)
    say("run: ring attention over " + std::to_string(P) + " ranks (" +
        (ro.layout == attn::RingLayout::zigzag ? "zigzag" : "contiguous") + " layout)\n");
  agreed([&] {
    attn::ring_attention(MPI_COMM_WORLD, attn::ConstTensor::contiguous(q.data.data(), B, H, nq, d),
                         attn::ConstTensor::contiguous(k.data.data(), B, Hkv, nk, d),
                         attn::ConstTensor::contiguous(v.data.data(), B, Hkv, nk, dv),
                         attn::Tensor::contiguous(out.data(), B, H, nq, dv),
                         lse.empty() ? attn::Tensor{} : attn::lse_view(lse.data(), B, H, nq), ro);
  });

  // 4. One .npy per output: rank 0 writes the header, every rank its rows (ordered writes), into
  // temporary files that rank 0 renames only when every rank has written all of them.
  const std::array<i64, 4> out4{B, H, Nq, dv};
  const std::vector<i64> out_shape(out4.begin() + static_cast<std::ptrdiff_t>(4 - ndim), out4.end());
  const std::vector<i64> lse_shape(out_shape.begin(), out_shape.end() - 1);
  long long pid = talk ? static_cast<long long>(::getpid()) : 0;
  MPI_Bcast(&pid, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  std::vector<std::pair<std::string, std::string>> files{{run.out + ".tmp-" + std::to_string(pid), run.out}};
  if (!run.lse.empty()) files.emplace_back(run.lse + ".tmp-" + std::to_string(pid), run.lse);
  const TempFilesRemovedOnSigterm guard(files);
  int ok = write_rows(files[0].first, npy::encode_header(out_shape), out, B * H, Nq, dv, qr, talk);
  if (!run.lse.empty())
    ok = write_rows(files[1].first, npy::encode_header(lse_shape), lse, B * H, Nq, 1, qr, talk) && ok;
  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  std::string rename_error;
  if (talk) {
    std::error_code ec;
    std::vector<std::string> renamed;
    for (const auto& [tmp, final_path] : files) {
      if (!all_ok) {
        rename_error = "a rank could not write its rows to " + tmp;
        break;
      }
      std::filesystem::rename(tmp, final_path, ec);
      if (ec) {
        rename_error = "cannot rename " + tmp + " to " + final_path + ": " + ec.message();
        break;
      }
      renamed.push_back(final_path);
    }
    if (!rename_error.empty()) {  // nothing half-written stays: no temporary file, no output of this run
      for (const auto& file : files) std::filesystem::remove(file.first, ec);
      for (const std::string& path : renamed) std::filesystem::remove(path, ec);
    }
  }
  agreed([&] {
    if (!rename_error.empty()) throw std::runtime_error("--out: " + rename_error);
  });

  if (talk) {
    std::cout << "ranks: " << P
              << " (mpirun), layout: " << (ro.layout == attn::RingLayout::zigzag ? "zigzag" : "contiguous")
              << ", query rows per rank: " << Nq / P << ".." << (Nq + P - 1) / P << "\n"
              << "shape: B=" << B << " H=" << H << " Hkv=" << Hkv << " Nq=" << Nq << " Nk=" << Nk << " d=" << d
              << " dv=" << dv << "\n"
              << "causal: " << attn::to_string(ro.attention.causal) << "\n";
    if (!run.mask.empty()) std::cout << "mask: " << run.mask << " (" << Nq << ", " << Nk << ")\n";
    std::cout << "rank 0 time: " << times.total << " s (compute " << times.compute << " s, exposed communication "
              << times.exposed_communication << " s, merge " << times.merge << " s)\n"
              << "out: " << run.out << " " << npy::shape_string(out_shape) << "\n";
    if (!run.lse.empty()) std::cout << "lse: " << run.lse << " " << npy::shape_string(lse_shape) << "\n";
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
    say(std::string("attnlab: error: ") + e.what() + "\n");
    MPI_Barrier(MPI_COMM_WORLD);
    mpi.finalize();
    std::exit(kExitUsage);
  }
}

}  // namespace attnlab
