// Where `attnlab lab --out DIR` writes (checked before anything is computed with
// files.hpp's check_output_directory): on a rerun into the same folder only the lab's own earlier files are
// replaced or removed (it keeps a list of them); nothing else there is touched.
#pragma once

#include <string>
#include <vector>

namespace attnlab::lab {

/// The list of files a run wrote, kept in the output folder.
inline constexpr const char* kManifestName = ".attnlab-lab-files";

/// Writes every (name, content) into `dir` (each atomically), removes the files an earlier
/// run listed in the manifest that this run did not write, and writes the new manifest.
/// Names are plain file names or "sub/name" paths below `dir`.
void write_output_files(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace attnlab::lab
