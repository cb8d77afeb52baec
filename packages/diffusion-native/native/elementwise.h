#pragma once
#include <node_api.h>

namespace flashdiff {
// Registers the elementwise / normalisation / pooling entry points on the addon's exports.
void registerElementwise(napi_env env, napi_value exports);
// The strided copy and Step of layout.cc; GroupNorm/LayerNorm forward and backward of group_norm.cc.
void registerLayout(napi_env env, napi_value exports);
void registerGroupNorm(napi_env env, napi_value exports);
// Adam, squared norm and EMA of optimizer.cc.
void registerOptimizer(napi_env env, napi_value exports);
}  // namespace flashdiff
