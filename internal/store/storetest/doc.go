// Package storetest is the conformance suite every store.DB backend passes.
package storetest
