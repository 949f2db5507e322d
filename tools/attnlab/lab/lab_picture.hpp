// A sentence's head as a picture: the words, the weights and the mask, with a
// title that says which sentence and head it is.
#pragma once

#include "attention_picture.hpp"
#include "lab_model.hpp"

namespace attnlab::lab {

AttentionPicture picture_of(const Sentence& s, int head, const Config& c);

/// "s1-the-cat-sat": a file name stem for sentence `index` (0-based), ASCII letters and digits only.
std::string slug(const std::string& text, int index);

}  // namespace attnlab::lab
