#include "lab_session.hpp"

namespace attnlab::lab {

Session make_session(const std::vector<std::string>& sentences, Config config, std::vector<Prediction> predictions) {
  Session ses;
  ses.predictions = std::move(predictions);
  ses.sentences = run_lab(sentences, config);
  ses.config = config;
  const Config& c = ses.config;
  ses.kernel = resolved_kernel(ses.sentences[0], c);
  ses.embeddings = describe_embeddings(c);
  ses.projections = describe_projections(c);
  for (const auto& s : ses.sentences) {
    ses.reflections.emplace_back();
    for (int h = 0; h < c.heads; ++h)
      ses.reflections.back().push_back(reflect(s.heads[static_cast<std::size_t>(h)].weights, c));
  }
  for (int b = 1; b < static_cast<int>(ses.sentences.size()); ++b)
    for (int h = 0; h < c.heads; ++h) ses.comparisons.push_back(compare_shared(ses.sentences, 0, b, h));
  for (const auto& p : ses.predictions) {
    const PredictionMatch m = match_prediction(p, ses.sentences);
    const Sentence& s = ses.sentences[static_cast<std::size_t>(m.sentence)];
    ses.matches.push_back(m);
    ses.aligned.push_back(aligned(p, m, s.tokens));
    ses.reports.emplace_back();
    for (int h = 0; h < c.heads; ++h)
      ses.reports.back().push_back(
          compare_prediction(ses.aligned.back(), m.sentence, s.heads[static_cast<std::size_t>(h)].weights, c, h));
  }
  return ses;
}

}  // namespace attnlab::lab
