//===- Train.h - gecko-run train / make-task ----------------------*- C++
//-*-===//
//
// The training subcommands of gecko-run (docs/training.md):
//   gecko-run train      train an artifact compiled with gecko-compile --train
//   gecko-run make-task  write a synthetic long-range task as a token file
//
//===----------------------------------------------------------------------===//

#ifndef GECKO_TOOLS_GECKO_RUN_TRAIN_H
#define GECKO_TOOLS_GECKO_RUN_TRAIN_H

namespace gecko::run {

/// `argv[1]` is the command name; returns the exit status.
int trainCommand(int argc, char **argv);
int makeTaskCommand(int argc, char **argv);

} // namespace gecko::run

#endif // GECKO_TOOLS_GECKO_RUN_TRAIN_H
