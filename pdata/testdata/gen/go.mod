module profcol.local/pdata/testdata/gen

go 1.26
