// gecko.working_memory(_grad): forall over (batch, head), the chunk
// recurrence (read / reset / write) as a sequential scf.for whose linalg
// ops are spread over the threads; memory + cache + segments, 27 tokens in
// chunks of 9, 3 heads, dz 8, dv 6.
func.func @wm(%q: tensor<2x27x3x8xf32>, %k: tensor<2x27x3x8xf32>, %v: tensor<2x27x3x6xf32>, %m: tensor<2x3x8x6xf32>, %z: tensor<2x3x8xf32>, %pk: tensor<2x9x3x8xf32>, %pv: tensor<2x9x3x6xf32>, %s: tensor<2x27xi64>, %ps: tensor<2x9xi64>, %pc: tensor<2xi64>) -> (tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>) {
  %out, %nm, %nz = gecko.working_memory chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) {chunk_size = 9 : i64} : (tensor<2x27x3x8xf32>, tensor<2x27x3x8xf32>, tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>, tensor<2x9x3x8xf32>, tensor<2x9x3x6xf32>, tensor<2x27xi64>, tensor<2x9xi64>, tensor<2xi64>) -> (tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>)
  return %out, %nm, %nz : tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>
}

func.func @wm_grad(%q: tensor<2x27x3x8xf32>, %k: tensor<2x27x3x8xf32>, %v: tensor<2x27x3x6xf32>, %m: tensor<2x3x8x6xf32>, %z: tensor<2x3x8xf32>, %pk: tensor<2x9x3x8xf32>, %pv: tensor<2x9x3x6xf32>, %s: tensor<2x27xi64>, %ps: tensor<2x9xi64>, %pc: tensor<2xi64>, %do: tensor<2x27x3x6xf32>, %dm: tensor<2x3x8x6xf32>, %dz: tensor<2x3x8xf32>) -> (tensor<2x27x3x8xf32>, tensor<2x27x3x8xf32>, tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>, tensor<2x9x3x8xf32>, tensor<2x9x3x6xf32>) {
  %dq, %dk, %dv, %dmi, %dzi, %dpk, %dpv = gecko.working_memory_grad chunked %q, %k, %v memory(%m, %z) cache(%pk, %pv) segments(%s, %ps, %pc) grad(%do) state_grads(%dm, %dz) {chunk_size = 9 : i64} : tensor<2x27x3x8xf32>, tensor<2x27x3x8xf32>, tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>, tensor<2x9x3x8xf32>, tensor<2x9x3x6xf32>, tensor<2x27xi64>, tensor<2x9xi64>, tensor<2xi64>, tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32> -> tensor<2x27x3x8xf32>, tensor<2x27x3x8xf32>, tensor<2x27x3x6xf32> memory(tensor<2x3x8x6xf32>, tensor<2x3x8xf32>) cache(tensor<2x9x3x8xf32>, tensor<2x9x3x6xf32>)
  return %dq, %dk, %dv, %dmi, %dzi, %dpk, %dpv : tensor<2x27x3x8xf32>, tensor<2x27x3x8xf32>, tensor<2x27x3x6xf32>, tensor<2x3x8x6xf32>, tensor<2x3x8xf32>, tensor<2x9x3x8xf32>, tensor<2x9x3x6xf32>
}
