// Secret values masked in Kubernetes API responses, before kubectl renders
// them, so every output format (yaml, json, jsonpath, custom-columns,
// go-template, get --raw, describe) shows the placeholder.
//
// `data` values are base64 in the API, and clients decode them (describe
// shows byte counts, `-o go-template` may base64decode): the placeholder
// must stay valid base64, so every `data` value becomes kKubeMaskedData,
// base64 of "****". `stringData` values are plain text and become "****".
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace bastion {

inline constexpr const char* kKubeMaskedData = "KioqKg==";  // base64("****")
inline constexpr const char* kKubeMaskedString = "****";

// Masks every Secret found in `j`: a Secret object (kind "Secret"), the
// items of a SecretList, a watch event's object, a Table row's object; and,
// when `secret_resource` (the request was for secrets, where list items and
// some responses carry no kind), any top-level or item object with data.
// Returns the number of values replaced.
std::size_t mask_kube_secrets(nlohmann::json& j, bool secret_resource);

// A whole JSON body: parsed, masked, dumped. False when it is not JSON (the
// caller then refuses to pass it on: fail closed).
bool mask_kube_body(std::string& body, bool secret_resource);

}  // namespace bastion
