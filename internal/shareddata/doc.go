// Package shareddata finds the project's shared reference data
// (../shared/data next to the repository: benchmarks, price maps, test
// cases) for tests. The folder is not part of the module, so a test that
// needs it skips when it is absent, except in CI (CI=true), where a
// missing folder fails the test: a broken set-up cannot turn the build
// green.
//
//	path := shareddata.File(t, "scifact/scifact.zip", "see shared/data/scifact/README.md")
package shareddata
