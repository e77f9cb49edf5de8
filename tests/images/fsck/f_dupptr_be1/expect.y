** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
1434 DUP I=30
** Phase 1b - Rescan For More DUPS
1434 DUP I=29
I=29 SHARES 1 FRAGMENTS WITH OTHER FILES
COPY? yes

** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
2063 files, 3554 used, 4261 free (5 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
