//===- main.cpp - Using the Gecko model runtime from C++ ------------------===//
//
// usage: gecko-runtime-api-example ARTIFACT [WEIGHTS.safetensors]
//
// Loads an artifact written by gecko-compile (random demo weights unless a
// weights file is given), scores a few tokens and greedily generates more.
// Links only GeckoModelRuntime (include/gecko/Runtime/Model.h).
//
//===----------------------------------------------------------------------===//

#include "gecko/Runtime/Model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using gecko::rt::Model;
using gecko::rt::Session;
using gecko::rt::Status;

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s ARTIFACT [WEIGHTS.safetensors]\n", argv[0]);
    return 1;
  }
  std::unique_ptr<Model> model;
  Status s = Model::load(argv[1], &model);
  if (s.ok())
    s = argc == 3 ? model->loadWeights(argv[2]) : model->initRandom(/*seed=*/1);
  if (!s.ok() || model->batch() != 1) {
    std::fprintf(stderr, "error: %s\n",
                 s.ok() ? "this example needs a batch-1 artifact"
                        : s.message().c_str());
    return 1;
  }
  int64_t vocab = model->vocabSize();

  // Score: the mean negative log-likelihood of each next token.
  std::vector<int64_t> tokens;
  for (int64_t i = 0; i < 3 * model->chunkSize() + 5; ++i)
    tokens.push_back((7 * i + 3) % vocab);
  Session session(*model);
  std::vector<float> logits; // [tokens][vocab]
  if (Status f = session.feed(tokens, &logits); !f.ok()) {
    std::fprintf(stderr, "error: %s\n", f.message().c_str());
    return 1;
  }
  double nll = 0;
  for (size_t t = 0; t + 1 < tokens.size(); ++t) {
    const float *row = &logits[t * vocab];
    float mx = *std::max_element(row, row + vocab);
    double sum = 0;
    for (int64_t v = 0; v < vocab; ++v)
      sum += std::exp(row[v] - mx);
    nll -= row[tokens[t + 1]] - mx - std::log(sum);
  }
  std::printf("scored %zu tokens: mean NLL %.4f\n", tokens.size(),
              nll / (tokens.size() - 1));

  // Greedy generation continues the same stream one token at a time.
  std::vector<float> last(logits.end() - vocab, logits.end());
  std::printf("greedy:");
  for (int i = 0; i < 8; ++i) {
    int64_t next = std::max_element(last.begin(), last.end()) - last.begin();
    std::printf(" %lld", static_cast<long long>(next));
    if (Status f = session.feed(&next, 1, last.data()); !f.ok()) {
      std::fprintf(stderr, "\nerror: %s\n", f.message().c_str());
      return 1;
    }
  }
  std::printf("\nposition %lld, %llu library calls\n",
              static_cast<long long>(session.position()),
              static_cast<unsigned long long>(session.calls()));
  return 0;
}
