// Every rank throws the same error, or none does: for ring_attention's checks, and for any
// program that must stop all its ranks with one message (attnlab run under mpirun).
#pragma once

#include <mpi.h>

#include <string>

namespace attn {

/// Collective: `error` is this rank's problem ("" when none). When any rank has one, every
/// rank throws attn::Error("<what>: rank R: <R's error>") for the lowest failing rank R.
void agree_on_error(MPI_Comm comm, const std::string& what, const std::string& error);

}  // namespace attn
