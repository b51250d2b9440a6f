-- Argo CD resource health for perf.elt.dev/EndpointLoadTest.
-- Register it under resource.customizations.health.perf.elt.dev_EndpointLoadTest
-- in argocd-cm (see README.md beside this file).
--   running (Pending, Starting, Running, Evaluating) or a spec change not yet
--   picked up                                   -> Progressing
--   Completed with verdict Passed                 -> Healthy
--   Completed with Failed or Inconclusive, Error  -> Degraded
local hs = {}
if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to start the test"
  return hs
end
local status = obj.status
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "A new run of the changed spec is starting"
  return hs
end
local phase = status.phase
if phase == "Completed" then
  local result = status.verdict and status.verdict.result or "Unknown"
  if result == "Passed" then
    hs.status = "Healthy"
  else
    hs.status = "Degraded"
  end
  hs.message = (status.verdict and status.verdict.message) or ("Verdict: " .. result)
  return hs
end
if phase == "Error" then
  hs.status = "Degraded"
  hs.message = status.message or "The load test could not run"
  return hs
end
hs.status = "Progressing"
local progress = status.progress
if progress ~= nil and progress.elapsedSeconds ~= nil and progress.totalSeconds ~= nil then
  hs.message = string.format("%s: %.0fs of %.0fs", phase, progress.elapsedSeconds, progress.totalSeconds)
else
  hs.message = status.message or phase
end
return hs
