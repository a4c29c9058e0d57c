module zhiyan

go 1.26
