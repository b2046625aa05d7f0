export const id = 239;
export const ids = [239];
export const modules = {

/***/ 23239:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  downloadDump: () => (/* binding */ downloadDump),
  uploadDump: () => (/* binding */ uploadDump)
});

// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(51455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(76760);
// EXTERNAL MODULE: ./node_modules/@actions/artifact/lib/artifact.js + 326 modules
var lib_artifact = __webpack_require__(20584);
// EXTERNAL MODULE: ./src/base/progress.ts
var progress = __webpack_require__(88122);
;// CONCATENATED MODULE: ./src/artifact/availability.ts
/**
 * Whether this run can use GitHub's artifact service, decided from the step's environment before
 * the artifact client (most of the bundle) is loaded.
 */
/**
 * GitHub Enterprise Server: a GITHUB_SERVER_URL that is neither github.com nor GitHub Enterprise
 * Cloud (*.ghe.com), nor a local emulator (*.localhost). @actions/artifact v2 and later talk to a
 * results service GHES does not have.
 */
function enterpriseServerHost(env) {
    const server = env.GITHUB_SERVER_URL?.trim();
    if (!server)
        return undefined;
    let host;
    try {
        host = new URL(server).hostname.toLowerCase();
    }
    catch {
        return undefined;
    }
    const hosted = host === 'github.com' || host.endsWith('.ghe.com') || host === 'localhost' || host.endsWith('.localhost');
    return hosted ? undefined : host;
}
/** Why the artifact service cannot be used here, and what the run does instead; undefined when it can. */
function artifactsUnavailable(env, dumpDir) {
    const ghes = enterpriseServerHost(env);
    if (ghes) {
        return {
            reason: `GitHub Enterprise Server (${ghes}) has no artifact service this action can use`,
            instead: `the dump stays at ${dumpDir} on this runner; in a split workflow run the dump and restore jobs on one self-hosted runner and give the restore job that folder as dump-path (upload-artifact: false silences this)`,
            warning: true
        };
    }
    if (!env.ACTIONS_RUNTIME_TOKEN) {
        return {
            reason: 'not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN)',
            instead: `the dump stays at ${dumpDir}`
        };
    }
    return undefined;
}
/** Restore mode on GitHub Enterprise Server: the artifact cannot be fetched; the dump must be on disk. */
function downloadUnavailable(env, name) {
    const ghes = enterpriseServerHost(env);
    if (!ghes)
        return undefined;
    return `cannot download artifact "${name}": GitHub Enterprise Server (${ghes}) has no artifact service this action can use; run the restore job on the runner that holds the dump and pass its folder as dump-path`;
}

;// CONCATENATED MODULE: ./src/artifact/github-artifacts.ts





/** Uploads every file under `dir` as one artifact, paths kept relative to `dir`. */
async function uploadDump(dir, options) {
    const unavailable = artifactsUnavailable(process.env, dir);
    if (unavailable)
        return { skipped: true, ...unavailable };
    const root = external_node_path_.resolve(dir);
    const files = await listFiles(root);
    if (files.length === 0)
        throw new Error(`dump folder ${root} has no files to upload`);
    let response;
    try {
        response = await new lib_artifact/* DefaultArtifactClient */.t9().uploadArtifact(options.name, files, root, {
            // pg_dump already compressed every table file with zstd; deflating again only costs CPU.
            compressionLevel: 0,
            retentionDays: options.retentionDays
        });
    }
    catch (error) {
        throw new Error(`uploading artifact "${options.name}" failed: ${firstLine(error)}`);
    }
    const { id, size, digest } = response;
    if (id === undefined || size === undefined || !digest) {
        throw new Error(`uploading artifact "${options.name}" failed: the artifact service returned no id, size or digest`);
    }
    return { id, name: options.name, size, digest: `sha256:${digest}`, url: artifactUrl(id) };
}
/** Finds the dump artifact by name and extracts it into `destination`; returns that folder. */
async function downloadDump(options) {
    const { name } = options;
    const find = findOptions(options);
    const where = find
        ? `run ${options.runId} of ${find.findBy?.repositoryOwner}/${find.findBy?.repositoryName}`
        : 'this run';
    const ghes = downloadUnavailable(process.env, name);
    if (ghes)
        throw new Error(ghes);
    if (!find && !process.env.ACTIONS_RUNTIME_TOKEN) {
        throw new Error(`cannot look up artifact "${name}": not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN); pass a run id and a token to read it from a workflow run`);
    }
    const client = new lib_artifact/* DefaultArtifactClient */.t9();
    let artifact;
    try {
        ;
        ({ artifact } = await client.getArtifact(name, find));
    }
    catch (error) {
        if (error instanceof Error && error.name === 'ArtifactNotFoundError') {
            const hint = find
                ? 'check the name and run id, and that the artifact has not expired'
                : 'upload it earlier in this run under that name, or pass the run id and a token to read it from another run';
            throw new Error(`artifact "${name}" not found in ${where}; ${hint}`);
        }
        throw new Error(`looking up artifact "${name}" in ${where} failed: ${firstLine(error)}`);
    }
    const destination = external_node_path_.resolve(options.destination);
    const progress = options.progress && watchDownload(destination, artifact.size, options.progress);
    let result;
    try {
        result = await client.downloadArtifact(artifact.id, { ...find, path: destination, expectedHash: artifact.digest });
    }
    catch (error) {
        throw new Error(`downloading artifact "${name}" from ${where} failed: ${firstLine(error)}`);
    }
    finally {
        await progress?.stop();
    }
    // The library only reports a mismatch; a damaged dump must not be restored.
    if (result.digestMismatch) {
        throw new Error(`artifact "${name}" downloaded with a different sha256 digest than ${artifact.digest}; it is damaged`);
    }
    return destination;
}
function findOptions(options) {
    if (options.runId === undefined)
        return undefined;
    const repository = options.repository ?? process.env.GITHUB_REPOSITORY;
    const [owner, repo, ...rest] = repository?.split('/') ?? [];
    if (!owner || !repo || rest.length > 0) {
        throw new Error(`cannot read artifacts of run ${options.runId}: repository must be owner/name (got "${repository ?? ''}")`);
    }
    if (!options.token) {
        throw new Error(`cannot read artifacts of run ${options.runId}: a token with actions:read on ${repository} is needed`);
    }
    return {
        findBy: { token: options.token, workflowRunId: options.runId, repositoryOwner: owner, repositoryName: repo }
    };
}
/**
 * The download's progress lines: the bytes written into `dir` so far against the artifact's size.
 * The library reports no progress of its own; the dump is stored uncompressed, so the extracted
 * bytes and the zip's keep step. A last look when it ends, so the log and the timeline close on it.
 */
function watchDownload(dir, size, { log, timeline }) {
    const lines = new progress/* ProgressLog */.q(log, 'download', timeline, size > 0 ? { bytes: size } : {});
    let looking = Promise.resolve();
    const look = () => (looking = looking.then(async () => {
        const files = await listFiles(dir).catch(() => []);
        const sizes = await Promise.all(files.map((file) => promises_.stat(file).then((s) => s.size, () => 0)));
        lines.update({ rows: 0, bytes: sizes.reduce((sum, bytes) => sum + bytes, 0) });
    }));
    const timer = setInterval(() => void look(), 1000);
    return {
        async stop() {
            clearInterval(timer);
            await look();
        }
    };
}
async function listFiles(dir) {
    const entries = await promises_.readdir(dir, { withFileTypes: true });
    const nested = await Promise.all(entries.map(async (entry) => {
        const full = external_node_path_.join(dir, entry.name);
        if (entry.isDirectory())
            return listFiles(full);
        return entry.isFile() ? [full] : [];
    }));
    return nested.flat();
}
function artifactUrl(id) {
    const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = process.env;
    if (!server || !repository || !runId)
        return undefined;
    return `${server}/${repository}/actions/runs/${runId}/artifacts/${id}`;
}
// Library errors run over several lines (FAQ links, self-hosted runner advice); the log wants one.
function firstLine(error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n')[0].trim();
}


/***/ })

};

//# sourceMappingURL=239.index.js.map