// Pins the FerretDB module that stack.sh downloads and builds for the native local stack.
module yingde.local/ferretdb

go 1.24

require github.com/FerretDB/FerretDB v1.24.2
