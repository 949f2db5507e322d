#include "threads.hpp"

#include <omp.h>

#include <stdexcept>

namespace attnlab {

int checked_threads(const std::string& command, int requested, std::ostream* note) {
  if (requested < 0 || requested > kMaxThreads)
    throw std::invalid_argument("--threads: expected 0 (OpenMP default) to " + std::to_string(kMaxThreads) + ", got " +
                                std::to_string(requested));
  const int cpus = omp_get_num_procs();  // the CPUs this process may run on
  if (note && requested > cpus)
    *note << command << ": note: --threads " << requested << " is more than the " << cpus
          << " CPUs here; the extra threads share them (slower, not faster)\n";
  return requested ? requested : omp_get_max_threads();
}

}  // namespace attnlab
