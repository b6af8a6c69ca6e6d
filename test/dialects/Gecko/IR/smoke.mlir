// RUN: gecko-opt %s | FileCheck %s
// CHECK-LABEL: func.func @empty
func.func @empty() {
  return
}
