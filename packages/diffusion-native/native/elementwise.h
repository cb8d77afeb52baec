#pragma once
#include <node_api.h>

namespace flashdiff {
// Registers the elementwise / normalisation / pooling entry points on the addon's exports.
void registerElementwise(napi_env env, napi_value exports);
}  // namespace flashdiff
