// The layers of src/, top to bottom: a module may import its own folder and the layers below it,
// never a layer above or a sibling layer. `npm run lint` enforces it.
const LAYERS = [
  ['src/index.ts'],
  ['src/main.ts'],
  ['src/modes/'],
  ['src/action/'],
  ['src/plan/'],
  ['src/artifact/', 'src/targets/', 'src/settings/', 'src/sync/', 'src/stream/'],
  ['src/tools/', 'src/verify/'],
  ['src/scope/'],
  ['src/pg/'],
  ['src/base/']
]

const pattern = (paths) => `^(${paths.map((p) => p.replace(/[.]/g, '\\.')).join('|')})`

const layerRules = LAYERS.flatMap((layer, index) => {
  const above = LAYERS.slice(0, index).flat()
  return layer.flatMap((folder) => {
    const siblings = layer.filter((other) => other !== folder)
    if (above.length + siblings.length === 0) return []
    return {
      name: `layer-${folder.replace(/[^a-z]+/g, '-').replace(/-$/, '')}`,
      comment: `${folder} may import only itself and the layers below it`,
      severity: 'error',
      from: { path: pattern([folder]) },
      to: { path: pattern([...above, ...siblings]) }
    }
  })
})

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'modules that import each other cannot be read or changed one at a time',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'no-test-imports',
      comment: 'the action never loads test code',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] }
  }
}
