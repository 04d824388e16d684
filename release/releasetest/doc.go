// Package releasetest is the conformance suite for [release.Store]
// implementations. Every store in dynokit (memstore, boltstore, pgstore)
// runs it, and a platform's own store should too:
//
//	func TestConformance(t *testing.T) {
//		releasetest.StoreSuite(t, func(t *testing.T) release.Store { return openMyStore(t) })
//	}
package releasetest
